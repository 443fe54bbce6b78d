"""The progress line: counts, time so far and left, what is running; live on a terminal, plain lines elsewhere."""

import io

from analysis.progress import Progress, duration


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_durations_read_plainly():
    assert [duration(s) for s in (4.4, 59.6, 61, 3599, 3720)] == ["4 s", "1 min 00 s", "1 min 01 s", "59 min 59 s", "1 h 02 min"]


def test_the_status_says_done_elapsed_time_left_and_what_is_running():
    clock = Clock()
    out = io.StringIO()
    pr = Progress(4, label="run", running=lambda: ["01 Hartlepool, cell 3 of 12"], stream=out, live=False, clock=clock)
    assert pr.status() == "run [0/4] · 0% · 0 s so far · running: 01 Hartlepool, cell 3 of 12"
    clock.now += 30
    pr.advance("[1/4] 01 Hartlepool: ok")
    assert pr.status() == "run [1/4] · 25% · 30 s so far · about 1 min 30 s left · running: 01 Hartlepool, cell 3 of 12"
    assert out.getvalue() == "[1/4] 01 Hartlepool: ok\n"


def test_off_a_terminal_it_prints_plain_lines_and_a_heartbeat_when_quiet():
    clock = Clock()
    out = io.StringIO()
    pr = Progress(2, stream=out, live=False, heartbeat=60, clock=clock)
    pr.say("started")
    clock.now += 59
    pr.tick()
    assert out.getvalue() == "started\n", "nothing new within a minute"
    clock.now += 2
    pr.tick()
    assert out.getvalue().splitlines()[-1] == "[0/2] · 0% · 1 min 01 s so far"
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_on_a_terminal_the_line_is_redrawn_under_the_messages_and_cleared_at_the_end():
    out = io.StringIO()
    with Progress(1, stream=out, live=True, clock=Clock()) as pr:
        pr.advance("done one")
    text = out.getvalue()
    assert "\r\x1b[2K[0/1]" in text and "done one\n" in text and "[1/1] · 100%" in text
    assert text.endswith("\r\x1b[2K"), "the live line is cleared at the end"


def test_a_failing_status_source_does_not_stop_the_run():
    def broken():
        raise ValueError("half-written status file")

    assert Progress(1, running=broken, stream=io.StringIO(), live=False).status().startswith("[0/1]")
