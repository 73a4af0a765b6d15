#!/usr/bin/env python3
"""git fast-import streams for tests/perf/gitgate_perf.sh (spec/gitgate.md §17).

  gg_gen.py history COMMITS FILES DIRS EDITS [--from REF] [--seed N]
      a linear history on refs/heads/main: the first commit adds FILES
      text files spread over DIRS directories, each later one edits EDITS
      of them (one line each).  With --from, every commit edits: the
      files' current contents are read from REF in $GIT_DIR (the
      repository fast-import will write to).
  gg_gen.py bigcommit NFILES BYTES --from REF
      one commit adding NFILES config-like text files of about BYTES
      bytes each: "key_N = word word word" lines, words from a small
      fixed list, so no token rule matches and entropy stays low.
  gg_gen.py small COMMITS --from REF
      COMMITS small commits, each appending one line to one of 20 files.

The stream goes to stdout; pipe it into `git fast-import --quiet`.
Identities and dates are fixed, so a rerun gives the same objects.
"""
import random
import subprocess
import sys
import zlib

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet "
         "kilo lima mike november oscar papa quebec romeo sierra tango "
         "uniform victor whiskey xray yankee zulu north south east west "
         "red green blue amber silver copper iron stone river lake hill "
         "valley forest meadow harbor bridge tower market garden").split()
LINES_PER_FILE = 45
T0 = 1700000000

out = sys.stdout.buffer


def data(b):
    out.write(b"data %d\n" % len(b))
    out.write(b)
    out.write(b"\n")


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def commit(n, msg, frm, changes):
    ts = T0 + n * 60
    out.write(b"commit refs/heads/main\n")
    out.write(b"author t <t@example.invalid> %d +0000\n" % ts)
    out.write(b"committer t <t@example.invalid> %d +0000\n" % ts)
    data(msg.encode())
    if frm is not None:
        out.write(b"from %s\n" % frm.encode())
    for path, content in changes:
        out.write(b"M 100644 inline %s\n" % path.encode())
        data(content)


def read_files(ref, paths):
    """Each path's lines at ref, through one `git cat-file --batch`."""
    req = "".join("%s:%s\n" % (ref, p) for p in paths).encode()
    res = subprocess.run(["git", "cat-file", "--batch"], input=req,
                         stdout=subprocess.PIPE, check=True).stdout
    files, pos = [], 0
    for p in paths:
        nl = res.index(b"\n", pos)
        head = res[pos:nl].split()
        if len(head) != 3:
            sys.exit("gg_gen.py: %s:%s missing" % (ref, p))
        size = int(head[2])
        body = res[nl + 1:nl + 1 + size].decode()
        files.append(body.rstrip("\n").split("\n"))
        pos = nl + 1 + size + 1
    return files


def history(ncommits, nfiles, ndirs, nedits, frm, seed):
    rng = random.Random(seed)
    paths = ["d%02d/f%03d.txt" % (i % ndirs, i) for i in range(nfiles)]
    files = [["%s %d: %s" % (p, k, words(rng, 7))
              for k in range(LINES_PER_FILE)] for p in paths]
    start = 0
    if frm is None:
        commit(0, "initial: %d files\n" % nfiles, None,
               [(p, ("\n".join(f) + "\n").encode())
                for p, f in zip(paths, files)])
        start = 1
    else:
        # Continue a history: today's contents, a new stream of edits.
        files = read_files(frm, paths)
        rng = random.Random(seed + zlib.crc32(frm.encode()))
    for n in range(start, ncommits):
        changes = []
        for i in rng.sample(range(nfiles), nedits):
            k = rng.randrange(LINES_PER_FILE)
            files[i][k] = "%s %d: %s (c%d)" % (paths[i], k, words(rng, 7), n)
            changes.append((paths[i], ("\n".join(files[i]) + "\n").encode()))
        commit(n, "edit %d: %s\n" % (n, words(rng, 4)),
               frm if n == start else None, changes)


def bigcommit(nfiles, nbytes, frm, seed):
    rng = random.Random(seed)
    pool = [words(rng, 5) for _ in range(4096)]
    changes = []
    for f in range(nfiles):
        lines, size, k = [], 0, 0
        while size < nbytes:
            line = "key_%d = %s" % (k, pool[rng.randrange(4096)])
            lines.append(line)
            size += len(line) + 1
            k += 1
        changes.append(("config/part%02d.conf" % f,
                        ("\n".join(lines) + "\n").encode()))
    commit(1, "add %d config files\n" % nfiles, frm, changes)


def small(ncommits, frm, seed):
    rng = random.Random(seed)
    files = [[] for _ in range(20)]
    for n in range(ncommits):
        i = n % 20
        files[i].append("entry %d: %s" % (n, words(rng, 4)))
        commit(n, "small %d\n" % n, frm if n == 0 else None,
               [("small/s%02d.txt" % i,
                 ("\n".join(files[i]) + "\n").encode())])


def main(argv):
    frm, seed, pos = None, 1, []
    i = 0
    while i < len(argv):
        if argv[i] == "--from":
            frm = argv[i + 1]
            i += 2
        elif argv[i] == "--seed":
            seed = int(argv[i + 1])
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if not pos:
        sys.exit(__doc__)
    if pos[0] == "history" and len(pos) == 5:
        history(*(int(x) for x in pos[1:]), frm, seed)
    elif pos[0] == "bigcommit" and len(pos) == 3 and frm:
        bigcommit(int(pos[1]), int(pos[2]), frm, seed)
    elif pos[0] == "small" and len(pos) == 2 and frm:
        small(int(pos[1]), frm, seed)
    else:
        sys.exit(__doc__)
    out.write(b"done\n")


if __name__ == "__main__":
    main(sys.argv[1:])
