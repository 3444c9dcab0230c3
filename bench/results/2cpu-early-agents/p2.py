import socket
import time

from scoop_hpc import futures


def f(_):
    time.sleep(0.01)
    return socket.gethostname()


if __name__ == "__main__":
    print(sorted(set(futures.map(f, range(20)))))
