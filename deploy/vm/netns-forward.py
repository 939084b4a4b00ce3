#!/usr/bin/python3
"""netns-forward - forward a host TCP port into a network namespace.

    netns-forward.py NETNS LISTEN_HOST:PORT TARGET_HOST:PORT

Listens on LISTEN_HOST:PORT in the caller's namespace (cluster.sh uses
127.0.0.1), then enters NETNS (setns), so that every connection it makes to
TARGET_HOST:PORT starts inside the namespace: the VM cluster's dashboard,
which the collector serves on the agent link, becomes reachable from the
host's browser.  Runs until killed (cluster.sh stop kills it by PID).
"""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, target):
    try:
        up = socket.create_connection(target, timeout=5)
    except OSError as e:
        print(f'netns-forward: connect {target}: {e}', file=sys.stderr)
        conn.close()
        return
    up.settimeout(None)
    t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
    t.start()
    pipe(conn, up)
    t.join()
    conn.close()
    up.close()


def hostport(s):
    host, _, port = s.rpartition(':')
    return host, int(port)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    ns, listen, target = sys.argv[1], hostport(sys.argv[2]), hostport(sys.argv[3])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(listen)
    srv.listen(16)
    fd = os.open(f'/run/netns/{ns}', os.O_RDONLY)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        sys.exit(f'netns-forward: setns {ns}: {os.strerror(ctypes.get_errno())}')
    os.close(fd)
    print(f'netns-forward: {sys.argv[2]} -> {sys.argv[3]} in {ns}', flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, target), daemon=True).start()


if __name__ == '__main__':
    main()
