"""Record every numba compile of this process (perf/compile_profile.py puts this directory on
PYTHONPATH of ``ringex serve`` and all its children; without COMPILE_PROFILE_DIR it does
nothing).

One JSON line per compiled signature goes to ``$COMPILE_PROFILE_DIR/<pid>.jsonl``: the
function, its argument types, its inline option, the thread CPU seconds of the compile with
and without the nested compiles of its callees, and the IR-level inlines done while it compiled
(callee, count, CPU seconds spent in numba's ``InlineWorker.inline_function`` including the
callee's own untyped passes).
"""

import os

_out_dir = os.environ.get("COMPILE_PROFILE_DIR")


def _install(out_dir):
    import atexit
    import json
    import multiprocessing
    import sys
    import threading
    import time

    from numba.core import event
    from numba.core import inline_closurecall

    path = os.path.join(out_dir, f"{os.getpid()}.jsonl")
    local = threading.local()

    def role():
        name = multiprocessing.current_process().name
        if name == "MainProcess":
            return " ".join(os.path.basename(a) for a in sys.argv[:3])
        return name

    def stack():
        if not hasattr(local, "stack"):
            local.stack = []
        return local.stack

    def write(record):
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")

    class Listener(event.Listener):
        def on_start(self, ev):
            stack().append({"cpu0": time.thread_time(), "wall0": time.perf_counter(),
                            "children": 0.0, "inlines": {}})

        def on_end(self, ev):
            frames = stack()
            frame = frames.pop()
            cpu = time.thread_time() - frame["cpu0"]
            if frames:
                frames[-1]["children"] += cpu
            disp = ev.data["dispatcher"]
            func = disp.py_func
            write({"pid": os.getpid(), "role": role(),
                   "function": f"{func.__module__}.{func.__qualname__}",
                   "args": [str(a) for a in ev.data["args"]],
                   "inline": disp.targetoptions.get("inline", "never"),
                   "depth": len(frames),
                   "cpu_s": round(cpu, 4), "cpu_self_s": round(cpu - frame["children"], 4),
                   "wall_s": round(time.perf_counter() - frame["wall0"], 4),
                   "inlines": {k: [v[0], round(v[1], 4)] for k, v in frame["inlines"].items()},
                   "t": time.time()})

    event.register("numba:compile", Listener())

    worker = inline_closurecall.InlineWorker
    original = worker.inline_function
    depth = {"n": 0}

    def inline_function(self, caller_ir, block, i, function, arg_typs=None):
        depth["n"] += 1
        t0 = time.thread_time()
        try:
            return original(self, caller_ir, block, i, function, arg_typs=arg_typs)
        finally:
            depth["n"] -= 1
            frames = stack()
            if frames:
                key = f"{function.__module__}.{function.__qualname__}"
                entry = frames[-1]["inlines"].setdefault(key, [0, 0.0])
                entry[0] += 1
                if depth["n"] == 0:  # count nested inlines, time only the outermost
                    entry[1] += time.thread_time() - t0

    worker.inline_function = inline_function

    def at_exit():
        write({"pid": os.getpid(), "role": role(), "process_cpu_s":
               round(time.process_time(), 3), "exit": True, "t": time.time()})

    atexit.register(at_exit)


if _out_dir:
    _install(_out_dir)
