"""The SDK's transports: one seam (:class:`~flamepy.transport.base.Transport`) between the session
logic and the wire. ``grpc`` is the real one, ``memory`` an in-memory one for tests, ``cache`` the
object cache's wire client. Only this package (and the wire conversion modules in
:mod:`flamepy.common`) touches generated protobuf code on the SDK side.
"""
