"""What a directory tree holds, to prove a command wrote nowhere else."""
import hashlib
import os
import stat


def snapshot(root, skip=()):
    """{relative path: (kind, detail...)} of everything under root, without
    following symlinks: links their target, directories their mode, files
    their sha256, size and mtime.  Paths in skip (and below them) and the
    database files beside the root (puljectl may touch -shm/-wal) are left
    out."""
    out = {}
    skip = [os.path.abspath(s) for s in skip]
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if any(os.path.abspath(dirpath) == s or
               os.path.abspath(dirpath).startswith(s + os.sep) for s in skip):
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if os.path.abspath(p) in skip:
                continue
            if dirpath == root and n.startswith("puljed.db"):
                continue
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", hashlib.sha256(f.read()).hexdigest(), st.st_size,
                                st.st_mtime_ns)
    return out
