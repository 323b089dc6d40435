"""Functions, classes and objects the Runner tests run remotely (imported by reference there, so
this module stays free of pytest and test fixtures)."""

from __future__ import annotations

import os
import time

import flamepy


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def noop():
    return None


def echo(*args, **kwargs):
    return args, kwargs


def total(values):
    return sum(values)


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def boom(message):
    raise ValueError(message)


def fail_on(value, bad):
    if value in bad:
        raise KeyError(value)
    return value * 2


def blob(size):
    return b"x" * size


def listdir():
    found = []
    for base, dirs, files in os.walk("."):
        dirs[:] = sorted(dirs)
        found.extend(os.path.relpath(os.path.join(base, f), ".") for f in files)
    return sorted(found)


class Unpicklable(Exception):
    """Needs two arguments, but pickles only its message: rebuilding it fails."""

    def __init__(self, a, b):
        super().__init__(f"{a}-{b}")


def raise_unpicklable():
    raise Unpicklable(1, 2)


class Calculator:
    def __init__(self):
        self.pid = os.getpid()

    def __call__(self, x):
        return x + 1

    def square(self, x):
        return x * x

    def where(self):
        return self.pid


class Counter:
    def __init__(self, start=0):
        self.count = start

    def incr(self, by=1):
        self.count += by
        return self.count

    def value(self):
        return self.count


def nested_sum(app_name, n):
    """Runs remotely and itself uses a Runner (recursion)."""
    from flamepy.runner import Runner

    with Runner(app_name) as inner:
        svc = inner.service(add)
        return sum(inner.get([svc(i, i) for i in range(n)]))


@flamepy.function(resreq="cpu=1")
def cube(x):
    return x**3


@flamepy.function(retries=2, gpu=0)
def fails_once(path):
    """Raises on its first call for ``path`` (a counter file), then returns the attempt number."""
    with open(path, "a+") as f:
        f.seek(0)
        attempt = len(f.read())
        f.write("x")
    if attempt == 0:
        raise RuntimeError("first attempt fails")
    return attempt


@flamepy.function(timeout=1)
def too_slow():
    time.sleep(60)
