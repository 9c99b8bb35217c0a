#!/usr/bin/env python3
"""sockhold: what sluice.socket + sluice.service do under systemd, for the tests. Holds a
listening Unix socket for its whole life, runs CMD with it as fd 0 (StandardInput=socket) and
starts CMD again whenever it exits (a restart: the socket, and what waits in its backlog,
stays). SIGTERM: CMD gets SIGTERM, is waited for, and sockhold exits.

  sockhold.py SOCKET PIDFILE CMD [ARGS...]    (PIDFILE: the pid of the current CMD)
"""
import os
import signal
import socket
import subprocess
import sys

path, pidfile, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
if os.path.exists(path):
    os.unlink(path)
lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lsock.bind(path)
lsock.listen(128)
stopping = False
child = None


def term(_sig, _frame):
    global stopping
    stopping = True
    if child is not None and child.poll() is None:
        child.terminate()


signal.signal(signal.SIGTERM, term)
signal.signal(signal.SIGINT, term)
while not stopping:
    child = subprocess.Popen(cmd, stdin=lsock.fileno(), stdout=subprocess.DEVNULL)
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % child.pid)
    os.rename(pidfile + ".tmp", pidfile)
    if stopping:   # a SIGTERM between the check and the start
        child.terminate()
    child.wait()
