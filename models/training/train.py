#!/usr/bin/env python3
"""Train the project's four models on the synthetic data set of `sim dataset` and export
them to ONNX. See README.md.

    python3 train.py --data DATA --out OUT --model all --minutes 6 --device auto
    python3 train.py --selftest
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

START = time.time()
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MODELS = ["vehicle_det", "plate_rec", "plate_det", "helmet"]  # launch order: the longest first


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, help="data set root (the output of `sim dataset`)")
    ap.add_argument("--also", type=Path, action="append", default=[], metavar="DATA",
                    help="plate_rec, plate_det: another data set root whose splits of the task are added "
                         "to --data's (e.g. `sim plate-crops` beside `sim dataset`; repeatable)")
    ap.add_argument("--out", type=Path, help="where <model>.onnx and <model>.report.json go")
    ap.add_argument("--work", type=Path, help="logs and checkpoints (default: OUT/work)")
    ap.add_argument("--model", choices=MODELS + ["all"], default="all")
    ap.add_argument("--minutes", type=float, default=5.0,
                    help="wall-clock budget per model, from process start to written ONNX (0 = no limit)")
    ap.add_argument("--minutes-for", default="",
                    help="per-model overrides for --model all, e.g. 'vehicle_det=6.5,helmet=3'")
    ap.add_argument("--device", default="auto", help="auto | cuda | cpu | cuda:N")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads per model process (0 = share the cores)")
    ap.add_argument("--batch", type=int, default=0, help="override the batch size")
    ap.add_argument("--lr", type=float, default=0.0, help="override the peak learning rate")
    ap.add_argument("--max-epochs", type=int, default=0, help="override the epoch cap")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps")
    ap.add_argument("--variant", default="s",
                    help="plate_rec only: the recogniser's size, a key of nets.PLATE_REC_VARIANTS")
    ap.add_argument("--balance", type=float, default=1.0,
                    help="plate_rec only: draw one-line and non-white plates this many times as often")
    ap.add_argument("--init", type=Path, metavar="ONNX",
                    help="start from the weights of a model this project exported (same network) instead of "
                         "random ones; its batch norms stay frozen (with --coco-init: a detector exported "
                         "from that start, trained further)")
    ap.add_argument("--eval-only", action="store_true",
                    help="with --init: evaluate that model on DATA's validation split, write "
                         "OUT/<model>.eval.json and stop (no training, no export)")
    ap.add_argument("--low-res", type=float, default=0.0,
                    help="plate_rec: the share of training crops seen at 1.5-3.5 times lower resolution")
    ap.add_argument("--real", type=Path, action="append", default=[], metavar="DATA_YAML",
                    help="vehicle_det: real photographs in the YOLO layout to train on beside the sim frames "
                         "(repeatable); the first one's valid split picks the weights")
    ap.add_argument("--real-share", type=float, default=0.5,
                    help="vehicle_det: the share of training draws taken from --real")
    ap.add_argument("--stretch-p", type=float, default=0.3,
                    help="vehicle_det with --real: the share of training frames stretched to a square, as "
                         "640x640 exports of 16:9 cameras are")
    ap.add_argument("--coco-init", type=Path, metavar="ONNX",
                    help="vehicle_det: start from a COCO-trained YOLOX export (yolox.py) instead of the "
                         "project's own network; the ONNX written keeps YOLOX's input and output contract")
    ap.add_argument("--no-amp", action="store_true", help="train in float32 on CUDA")
    ap.add_argument("--export-only", type=Path, metavar="CKPT",
                    help="skip training: load a checkpoint written by a run, evaluate and export")
    ap.add_argument("--summarize", type=Path, metavar="OUT", help="print one line per model from OUT's reports")
    ap.add_argument("--selftest", action="store_true",
                    help="make a tiny fake data set, run every model a few steps on CPU, check the ONNX files")
    a = ap.parse_args(argv)
    if not a.selftest and not a.summarize and (a.data is None or a.out is None):
        ap.error("--data and --out are required")
    if a.eval_only and not a.init:
        ap.error("--eval-only needs --init MODEL.onnx")
    return a


def minutes_for(args) -> dict:
    m = {k: args.minutes for k in MODELS}
    for part in filter(None, (p.strip() for p in args.minutes_for.split(","))):
        k, v = part.split("=")
        if k.strip() not in m:
            raise SystemExit(f"--minutes-for: unknown model {k!r}")
        m[k.strip()] = float(v)
    return m


# --------------------------------------------------------------------------- all: parallel processes


def run_all(args) -> int:
    # no torch import here: the children start at once and their budgets count from their start
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    mins = minutes_for(args)
    cores = os.cpu_count() or 1
    threads = args.threads or max(1, cores // len(MODELS))
    print(f"[all] {len(MODELS)} processes, device={args.device}, {threads} threads each, minutes={mins}",
          flush=True)
    procs = {}
    passthrough = []
    for flag in ("batch", "lr", "max_epochs", "max_steps"):
        v = getattr(args, flag)
        if v:
            passthrough += [f"--{flag.replace('_', '-')}", str(v)]
    if args.no_amp:
        passthrough.append("--no-amp")
    passthrough += ["--variant", args.variant, "--balance", str(args.balance), "--low-res", str(args.low_res)]
    for real in args.real:
        passthrough += ["--real", str(real)]
    for also in args.also:
        passthrough += ["--also", str(also)]
    if args.coco_init:
        passthrough += ["--coco-init", str(args.coco_init)]
    passthrough += ["--real-share", str(args.real_share), "--stretch-p", str(args.stretch_p)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for name in MODELS:
        cmd = [sys.executable, str(HERE / "train.py"), "--data", str(args.data), "--out", str(args.out),
               "--work", str(work), "--model", name, "--minutes", str(mins[name]), "--device", args.device,
               "--threads", str(threads)] + passthrough
        procs[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)

    def pump(name, p):
        logf = open(work / f"{name}.log", "w", encoding="utf-8")
        buf = b""
        while True:
            chunk = p.stdout.read1(4096) if hasattr(p.stdout, "read1") else p.stdout.read(1)
            if not chunk:
                break
            buf += chunk
            while True:
                cut = [i for i in (buf.find(b"\n"), buf.find(b"\r")) if i >= 0]
                if not cut:
                    break
                i = min(cut)
                line, buf = buf[:i].decode("utf-8", "replace").strip(), buf[i + 1:]
                if line:
                    print(f"[{name}] {line}", flush=True)
                    logf.write(line + "\n")
                    logf.flush()
        if buf.strip():
            print(f"[{name}] {buf.decode('utf-8', 'replace').strip()}", flush=True)
            logf.write(buf.decode("utf-8", "replace") + "\n")
        logf.close()

    threads_ = [threading.Thread(target=pump, args=(n, p), daemon=True) for n, p in procs.items()]
    for t in threads_:
        t.start()
    rc = 0
    for name, p in procs.items():
        code = p.wait()
        if code != 0:
            print(f"[all] {name} failed with exit code {code}", flush=True)
            rc = 1
    for t in threads_:
        t.join(timeout=5)
    print(f"[all] done in {time.time() - START:.1f} s", flush=True)
    summarize(args.out)
    return rc


def summarize(out: Path) -> None:
    for name in MODELS:
        p = out / f"{name}.report.json"
        if not p.exists():
            p = out / f"{name}.eval.json"
        if not p.exists():
            print(f"[summary] {name}: no report", flush=True)
            continue
        print(f"[summary] {summary_line(json.loads(p.read_text(encoding='utf-8')))}", flush=True)


def summary_line(r: dict) -> str:
    m, t, par = r.get("metrics", {}), r.get("train", {}), r.get("onnx_check", {})
    name = r.get("model")
    if name == "plate_rec":
        key = (f"exact={m.get('exact_match')} cer={m.get('cer')} "
               + " ".join(f"{k}={v['exact_match']}" for k, v in m.get("by_layout", {}).items()) + " "
               + " ".join(f"{k}={v['exact_match']}" for k, v in m.get("by_colour", {}).items()))
    elif name == "vehicle_det":
        key = f"mAP50={m.get('map50')} R@0.25={m.get('recall@0.25_all')} AP50={m.get('ap50')}"
    elif name == "plate_det":
        key = (f"vis_acc={m.get('visibility_accuracy')} R@IoU50={m.get('recall_iou50')} "
               f"corner_err_px={m.get('mean_corner_error_px')}")
    else:
        key = f"acc={m.get('accuracy')} bal_acc={m.get('balanced_accuracy')}"
    if "train" not in r:
        return f"{name}: {key} | evaluated {r.get('onnx_file')} (sha256 {r.get('onnx_sha256', '')[:12]})"
    return (f"{name}: {key} | steps={t.get('steps')} epochs={t.get('epochs')} train_s={t.get('train_s')} "
            f"wall_s={r.get('wall_s')} | onnx {r.get('onnx_bytes')} B diff={par.get('max_abs_diff')} "
            f"ort_1t={par.get('ort_cpu_1thread_batch1_ms_median')} ms")


# --------------------------------------------------------------------------- one model


def run_one(args, name: str) -> int:
    import torch

    import common
    import tasks

    common.seed_everything()
    device = common.pick_device(args.device)
    threads = args.threads or max(1, (os.cpu_count() or 1))
    common.setup_torch(device, threads)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    Task = tasks.TASKS[name]
    minutes = args.minutes
    budget = common.Budget(START, minutes, Task.cfg.get("reserve_s", 20))

    t = time.time()
    Task.extra_roots = list(args.also)
    task = Task(args.data, device, threads)
    if name == "plate_rec":
        import nets

        if args.variant not in nets.PLATE_REC_VARIANTS:
            common.log(f"error: --variant {args.variant!r}: not one of {sorted(nets.PLATE_REC_VARIANTS)}")
            return 2
        task.variant, task.balance = args.variant, args.balance
        task.low_res_p = args.low_res
    if name == "vehicle_det" and args.real:
        task.add_real(args.real, args.real_share, args.stretch_p)
    if name == "vehicle_det" and args.coco_init:
        task.use_coco(args.coco_init)
    info = task.data_info()
    common.log(f"data loaded in {time.time() - t:.1f} s: {json.dumps(info, ensure_ascii=False)}")
    if task.n_train == 0 or task.n_val == 0:
        common.log(f"error: no training or validation samples for {name} under {args.data}")
        return 2

    model = task.build()
    if args.init and hasattr(model, "load_export"):
        # A detector started from YOLOX (`--coco-init`) and exported by this project: its weights.
        diff = model.load_export(args.init)
        common.log(f"weights from {args.init} (max|diff| against ONNX Runtime {diff:.1e})")
    elif args.init:
        diff = common.init_from_onnx(model, args.init, (1,) + Task.in_shape)
        common.log(f"weights from {args.init} (max|diff| against ONNX Runtime {diff:.1e}), batch norms frozen")
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    task.set_model(model)
    in_shape = (1,) + Task.in_shape
    flops = common.count_flops(model, in_shape)
    params = sum(p.numel() for p in model.parameters())
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    common.log(f"model {type(model).__name__}: {params / 1e6:.3f} M params, {flops / 1e6:.1f} MFLOPs/image, "
               f"device {device} ({dev_name}), budget {minutes} min")

    if args.eval_only:
        metrics = {k: v for k, v in task.evaluate(model).items() if not k.startswith("_")}
        common.log(f"val ({args.init.name}): {json.dumps(metrics, ensure_ascii=False)}")
        common.write_json(args.out / f"{name}.eval.json",
                          {"model": name, "onnx_file": args.init.name, "onnx_sha256": common.sha256(args.init),
                           "data": info, "metrics": metrics})
        return 0

    ckpt_path = work / f"{name}.ckpt.pt"

    def save_ckpt(m, meta):
        sd = {k: v.detach().cpu() for k, v in m.state_dict().items()}
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": name, "state_dict": sd, "meta": meta}, tmp)
        os.replace(tmp, ckpt_path)

    if args.export_only:
        ck = torch.load(args.export_only, map_location="cpu")
        model.load_state_dict(ck["state_dict"])
        tr = {"steps": ck.get("meta", {}).get("steps"), "from_checkpoint": args.export_only.name}
        candidates = {"checkpoint": model}
    else:
        tr = common.train_loop(task, model, args, device, budget, on_ckpt=save_ckpt)
        candidates = {"ema": tr.pop("_ema"), "raw": model}
        common.log(f"trained: {tr['steps']} steps, {tr['epochs']} epochs, {tr['train_s']} s "
                   f"({tr['samples_per_s']} samples/s), stop: {tr['stop_reason']}, loss {tr['final_loss']}")

    # evaluate the candidates (EMA and raw weights), keep the better on val
    t = time.time()
    results = {}
    for k, m in candidates.items():
        if results and budget.end is not None and time.time() > budget.end - 0.6 * budget.reserve_s:
            common.log(f"skipping the evaluation of the {k} weights: out of time")
            continue
        results[k] = task.evaluate(m)
    chosen = max(results, key=lambda k: results[k].get("_score", 0.0))
    best = candidates[chosen]
    metrics = {k: v for k, v in results[chosen].items() if not k.startswith("_")}
    eval_s = time.time() - t
    common.log(f"val ({chosen} weights, {eval_s:.1f} s): {json.dumps(metrics, ensure_ascii=False)}")
    if not args.export_only:
        save_ckpt(best, {"steps": tr["steps"], "weights": chosen})

    # export and verify
    t = time.time()
    onnx_path = args.out / f"{name}.onnx"
    best.eval()
    # A network whose file keeps another contract (YOLOX: BGR 0-255) exports a module of its own.
    exported = best.export_module() if hasattr(best, "export_module") else best
    common.export_onnx(exported, onnx_path, Task.in_name, Task.out_name, in_shape)
    xval = task.val_images(8)
    if hasattr(best, "export_input"):
        xval = best.export_input(xval)
    check = common.verify_onnx(exported, onnx_path, xval, latency_runs=10 if name == "vehicle_det" else 50)
    export_s = time.time() - t
    common.log(f"onnx: {onnx_path.name} {onnx_path.stat().st_size} B, parity max|diff| {check['max_abs_diff']:.2e} "
               f"(batch {check['batch']}), ORT 1 thread {check['ort_cpu_1thread_batch1_ms_median']} ms/image")

    import onnx
    import onnxruntime

    report = {
        "model": name,
        "onnx_file": onnx_path.name,
        "onnx_bytes": onnx_path.stat().st_size,
        "onnx_sha256": common.sha256(onnx_path),
        "onnx_io": common.onnx_io(onnx_path),
        "onnx_check": check,
        "data": info,
        "network": {"class": type(best).__name__, "params": params, "flops_per_image": flops,
                    "flops_note": "FLOPs = 2 x multiply-accumulates, torch.utils.flop_counter"},
        "train": {**{k: v for k, v in tr.items()}, "init": args.init.name if args.init else None,
                  "coco_init": args.coco_init.name if args.coco_init else None,
                  "device": str(device), "device_name": dev_name,
                  "threads": threads, "seed": common.SEED, "budget_minutes": minutes},
        "weights": chosen,
        "candidates": {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in results.items()},
        "metrics": metrics,
        "eval_s": round(eval_s, 1),
        "export_s": round(export_s, 1),
        "wall_s": round(time.time() - START, 1),
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__,
                     "onnxruntime": onnxruntime.__version__},
        "licence": "Apache-2.0",
    }
    if report["wall_s"] > (minutes or 1e9) * 60:
        report["note"] = "over budget"
    common.write_json(args.out / f"{name}.report.json", report)
    common.log(f"report: {summary_line(report)}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.summarize:
        summarize(args.summarize)
        return 0
    if args.selftest:
        import selftest

        return selftest.main(args)
    if args.model == "all":
        return run_all(args)
    return run_one(args, args.model)


if __name__ == "__main__":
    sys.exit(main())
