"""Ready-made tools on top of the client SDK.

:class:`Sandbox` runs Python or shell code remotely on the built-in ``flmexec`` application, with
the same API as Flame's ``flamepy.tools``::

    from flamepy.tools import Sandbox, SandboxAttr

    with Sandbox.create(SandboxAttr(language="python")) as sb:
        print(sb.run_code("print(6 * 7)").text())          # "42\n"
"""

from flamepy.tools.sandbox import Sandbox, SandboxAttr, SandboxOutput

__all__ = ["Sandbox", "SandboxAttr", "SandboxOutput"]
