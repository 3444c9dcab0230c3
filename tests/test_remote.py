"""The launcher's side of one agent, with a real starter process."""
import queue

import pytest

from scoop_hpc.agent import AgentConfig
from scoop_hpc.relay import Console
from scoop_hpc.remote import RemoteHost

pytestmark = pytest.mark.timeout(60)
REFUSED = "ssh: connect to host h port 22: Connection refused"
# a starter that fails at once, after much chatter (ssh -v)
STARTER = (f"yes 'debug1: trying' | head -c 60000 >&2; "
           f"echo '{REFUSED}' >&2; exit 255")


def _config() -> AgentConfig:
    return AgentConfig(
        host="h", first=1, count=2, size=3, address="tcp://127.0.0.1:1",
        token="00", program={}, path="/", nice=0, debug=False, unlink=None,
        curve=None, activity=None, timeline=False, stats_every=0.0)


def test_a_starter_that_fails_at_once_is_reported_with_its_stderr():
    # the end is reported once all of the stderr is read (ssh's last line
    # went missing once under the full suite)
    for _ in range(25):
        events: queue.Queue = queue.Queue()
        host = RemoteHost("h", ["sh", "-c", STARTER], _config(), Console(),
                          events.put)
        host.start()
        assert events.get(timeout=10) == ("ended", "h")
        message = host.fail_message()
        assert "exited with code 255" in message, message
        assert REFUSED in message, message
