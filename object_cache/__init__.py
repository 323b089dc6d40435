"""The object cache server: versioned objects (a base plus ordered deltas) over gRPC, with memory or
disk storage and an LRU byte budget in front of the disk. See ``protos/cache.proto``."""
