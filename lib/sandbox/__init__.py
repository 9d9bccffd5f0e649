"""An offline Claude Messages API that the official SDK cannot tell from the real one.

    from lib.sandbox import Simulator, SandboxConfig
    with Simulator(SandboxConfig(virtual_clock=True)).serve() as base_url:
        client = anthropic.Anthropic(base_url=base_url, api_key="sk-test-sandbox")

See lib/sandbox/README.md for the reply-spec format, the control plane and the timing model.
"""

from .config import SandboxConfig
from .replies import Reply, ReplyBlock, ReplyError, ReplyTiming, Rule, StreamFault
from .simulator import Simulator

__all__ = [
    "Reply",
    "ReplyBlock",
    "ReplyError",
    "ReplyTiming",
    "Rule",
    "SandboxConfig",
    "Simulator",
    "StreamFault",
]
