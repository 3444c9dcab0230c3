"""Brute-force search with a shared constant and an early stop.

What it shows
    * ``shared.setConst(name=value)``: the root publishes a read-only
      constant once (here the SHA-256 hash we are looking for); every task
      reads it with ``shared.getConst(name)`` on whichever worker it runs,
      instead of receiving it as an argument over and over.
    * ``futures.as_completed``: the root handles the results in the order
      they finish, stops at the first hit and cancels the chunks that
      have not started yet (``Future.cancel()``; a chunk already running
      finishes, and its result is ignored).

The search space is every 4-letter lower-case word (26**4 = 456,976
candidates), split into 26 chunks by first letter.

How to run it
    python -m scoop_hpc -n 4 examples/brute_force.py [SECRET]
"""
import hashlib
import itertools
import string
import sys

from scoop_hpc import futures, shared

LETTERS = string.ascii_lowercase
LENGTH = 4


def digest(word):
    return hashlib.sha256(word.encode()).hexdigest()


def search_chunk(first_letter):
    """Try every word starting with ``first_letter``; return it or None."""
    target = shared.getConst("target")  # set once by the root
    for rest in itertools.product(LETTERS, repeat=LENGTH - 1):
        word = first_letter + "".join(rest)
        if digest(word) == target:
            return word
    return None


def main(secret="scop"):
    if len(secret) != LENGTH or not set(secret) <= set(LETTERS):
        sys.exit(f"the secret must be {LENGTH} lower-case letters, "
                 f"not {secret!r}")
    # Only the hash of the secret is shared: the tasks never see the word.
    shared.setConst(target=digest(secret))

    chunks = [futures.submit(search_chunk, letter) for letter in LETTERS]
    found = None
    for future in futures.as_completed(chunks):
        if future.cancelled():
            continue
        word = future.result()
        if word is not None:
            found = word
            break  # first hit: stop waiting
    # Cancel what has not started yet; cancel() returns False for chunks
    # that are already running or done.
    cancelled = sum(future.cancel() for future in chunks if not
                    future.done())
    print(f"searched for the hash {digest(secret)[:16]}...")
    print(f"found: {found}")
    # How many chunks were spared depends on timing; it is informative
    # only.
    print(f"({cancelled} of {len(chunks)} chunks cancelled before they "
          f"started)")


if __name__ == "__main__":
    main(*sys.argv[1:2])
