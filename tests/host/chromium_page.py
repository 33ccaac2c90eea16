#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""chromium_page.py PAGE DOM [SCREENSHOT]: open PAGE in headless Chromium
and write its DOM, once drawn, to DOM (and a PNG of it to SCREENSHOT).

Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL on file descriptors 3
and 4), so no port is opened. "Drawn" is a state, not a time:
d3-flame-graph appends its frames synchronously while the page's script
runs, then writes their labels and widens their rectangles in transitions;
so the DOM is taken at load when the page has no frame, else once every
frame has its label and its width.
--dump-dom with --virtual-time-budget was tried first and took the DOM
before the labels about half the time.

Exit 0; 1 when Chromium fails or the page does not settle within 60
seconds (a bound on a hung browser, not a measurement); 2 on a wrong
command line.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

WIDTH, HEIGHT = 1400, 480
BOUND_SECONDS = 60

# True once the page is loaded and either drew no frame or labelled every one
# and grew its rectangle to its width (both are transitions).
DRAWN = """(() => {
	if (document.readyState !== 'complete' || location.href !== %s)
		return false;
	const frames = document.querySelectorAll('g.frame');
	return Array.from(frames).every((frame) => {
		const label = frame.querySelector('div.d3-flame-graph-label');
		const rectangle = frame.querySelector('rect');
		return label && label.textContent === frame.getAttribute('name') &&
			rectangle && rectangle.getAttribute('width') === frame.getAttribute('width');
	});
})()"""


class Browser:
    def __init__(self, profile):
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()
        # The child's descriptors 3 and 4, as --remote-debugging-pipe wants them,
        # inheritable: dup2 onto itself would keep close-on-exec, so each end is
        # duplicated first. subprocess would close them after this runs, so it
        # closes nothing itself and this closes the rest.
        def descriptors():
            reading, writing = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(reading, 3)
            os.dup2(writing, 4)
            os.closerange(5, os.sysconf("SC_OPEN_MAX"))

        self.process = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=descriptors, close_fds=False)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.deadline = time.monotonic() + BOUND_SECONDS
        self.next_id = 0
        self.pending = b""

    def call(self, method, session=None, **parameters):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": parameters}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def receive(self):
        while b"\0" not in self.pending:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError(f"no answer from Chromium within {BOUND_SECONDS} s")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe")
            self.pending += chunk
        message, _, self.pending = self.pending.partition(b"\0")
        return json.loads(message)

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def evaluate(browser, session, expression):
    result = browser.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
    if "exceptionDetails" in result:
        return None
    return result["result"].get("value")


def main(arguments):
    if len(arguments) not in (2, 3):
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    url = "file://" + os.path.abspath(arguments[0])
    profile = tempfile.mkdtemp(prefix="chromium-page-")
    browser = Browser(profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        browser.call("Emulation.setDeviceMetricsOverride", session, width=WIDTH, height=HEIGHT,
                     deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", session, url=url)
        while not evaluate(browser, session, DRAWN % json.dumps(url)):
            if time.monotonic() > browser.deadline:
                raise TimeoutError(f"the page did not settle within {BOUND_SECONDS} s")
            time.sleep(0.1)
        with open(arguments[1], "w", encoding="utf-8") as dom:
            dom.write(evaluate(browser, session, "document.documentElement.outerHTML"))
        if len(arguments) == 3:
            shot = browser.call("Page.captureScreenshot", session, format="png")
            with open(arguments[2], "wb") as png:
                png.write(base64.b64decode(shot["data"]))
    except (RuntimeError, TimeoutError, OSError, KeyError) as error:
        print(f"chromium_page: {error}", file=sys.stderr)
        return 1
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
