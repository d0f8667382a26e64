"""``python -m bedrock_emulator`` (``make emulator``) as a user runs it."""

from __future__ import annotations

import socket

from bedrock_emulator.__main__ import main


def test_a_taken_port_is_one_line_naming_the_setting_not_a_traceback(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert f"EMULATOR_PORT={port + 1}" in err
    assert "Traceback" not in err
