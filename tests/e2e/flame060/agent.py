"""An agent written against flamepy 0.6.0's ``flamepy.service.FlameInstance`` (entrypoint API).

Its client is 0.6.0's ``flamepy.service.Session`` without a context, so nothing goes through
0.6.0's Arrow-Flight object cache: inputs and outputs are cloudpickled task data.
"""

from flamepy.service import FlameInstance

instance = FlameInstance()


@instance.entrypoint
def summarise(request):
    if request.get("fail"):
        raise ValueError(f"cannot summarise {request['fail']}")
    return {"keys": sorted(request), "total": sum(request.values())}


if __name__ == "__main__":
    instance.run()
