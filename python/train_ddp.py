#!/usr/bin/env python3
"""Continue an rnn run under PyTorch DistributedDataParallel, then hand it back to `rnn train --resume`.

    # one machine, 4 GPUs (nccl)
    torchrun --standalone --nproc_per_node 4 python/train_ddp.py runs/big --steps 10000
    # two machines, 8 GPUs each: the same command on both (HOST0 is the first machine's address)
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_id big-run --rdzv_backend c10d --rdzv_endpoint HOST0:29500 \\
        python/train_ddp.py runs/big --steps 10000
    # CPU, 2 processes over gloo, without torchrun (its own launcher: loopback env:// variables)
    python3 python/train_ddp.py runs/small --steps 200 --nproc 2 --backend gloo

What it does, step for step as rnn's training loop (src/train/train.ts):
  * reads RUN/latest.safetensors and the training state beside it (latest.state.safetensors, or
    next.state.safetensors after a crash): weights, the optimizer slab (Adam: exp_avg then exp_avg_sq, each
    in the parameter order of the checkpoint; the step count), step / epoch / chunk, the carried state of
    every stream (h [L × B × H], and c for an LSTM, with or without forget gate), the RNG state, best / last
    validation loss and the patience count;
  * the same stream layout: the training split (the corpus minus its tail valFrac) cut into B contiguous
    streams, chunk c of an epoch = the next T characters of every stream, hidden state carried from chunk to
    chunk, reset at each epoch start. The B streams are split into WORLD_SIZE contiguous parts, one per rank;
  * each rank's loss is the sum of its streams' cross-entropies times WORLD_SIZE / (B·T), so DDP's mean of the
    ranks' gradients is the gradient of rnn's loss, the mean over all B·T predictions;
  * then rnn's tail: --ortho-reg term, --clip-value, global-norm clipping (norm in float64, coefficient
    clip / (norm + 1e-6) when below 1), and torch's Adam / RMSprop / Adagrad / SGD with rnn's settings and
    learning-rate schedule (warmup, step decay);
  * dropout: the masks are rnn's own, drawn from the run's RNG exactly as `rnn train` with --threads K draws
    them (K = the run's config "threads", or --rnn-threads), so the RNG state written back is the one rnn
    would have; every rank draws all masks and uses its streams' part;
  * validation (rank 0) on the run's --eval-every cadence and at the end, under rnn eval's protocol;
    best.safetensors, metrics.jsonl lines; checkpoints on the --checkpoint-every cadence and at the end,
    written by rank 0 in rnn's exact format and crash-safe order (state first, then the model).
--steps N trains N MORE steps (rnn's own --steps counts from the start of the run). Afterwards
`rnn train --resume RUN --steps M` continues on one machine. loss.svg is redrawn by rnn's next resume.

Multi-machine: every machine reads RUN and the corpus at the same paths (shared storage, or copies);
rank 0 writes RUN. The stored config is not changed.
"""
import argparse
import datetime
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="train_ddp.py", description="continue an rnn run under PyTorch DDP; rnn train --resume continues the result")
    ap.add_argument("run", help="rnn run directory (its latest.safetensors and latest.state.safetensors)")
    ap.add_argument("corpus", nargs="*", help="the run's corpus files (default: those in its config)")
    ap.add_argument("--steps", type=int, required=True, help="train this many MORE steps")
    ap.add_argument("--nproc", type=int, default=0, help="start this many ranks on this machine (loopback, env://) instead of torchrun")
    ap.add_argument("--backend", choices=["gloo", "nccl"], help="default: nccl when CUDA is available, else gloo")
    ap.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda with nccl, cpu with gloo")
    ap.add_argument("--rnn-threads", type=int, help="reproduce the dropout masks of `rnn train --threads K` (default: the run's config threads; 1 for --kernels ref)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds a rank waits for the others in a collective before failing (default 1800)")
    ap.add_argument("--json", action="store_true", help="one JSON event per line on stdout (rank 0)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    a = ap.parse_args(argv)
    if a.steps < 1:
        ap.error("--steps must be at least 1")
    if a.nproc < 0:
        ap.error("--nproc must be at least 1")
    return a


# ---- launcher (no torch import here: it only starts the ranks) -----------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_ifname():
    try:
        for _, name in socket.if_nameindex():
            if name.startswith("lo"):
                return name
    except OSError:
        pass
    return None


def launch(nproc, argv):
    """Starts nproc ranks of this script with torchrun's env:// variables, on 127.0.0.1 only."""
    rest, skip = [], False
    for i, x in enumerate(argv):
        if skip:
            skip = False
            continue
        if x == "--nproc":
            skip = True
            continue
        if x.startswith("--nproc="):
            continue
        rest.append(x)
    port = str(free_port())
    procs = []
    for r in range(nproc):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(r), LOCAL_RANK=str(r),
                   WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc), GROUP_RANK="0")
        env.setdefault("OMP_NUM_THREADS", "1")  # as torchrun: one thread per rank unless told otherwise
        lo = loopback_ifname()
        if lo:
            env.setdefault("GLOO_SOCKET_IFNAME", lo)
            env.setdefault("NCCL_SOCKET_IFNAME", lo)
        procs.append(subprocess.Popen([sys.executable, os.path.abspath(__file__), *rest], env=env))

    def forward(sig, _frame):
        for p in procs:
            if p.poll() is None:
                p.send_signal(sig)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = 0
    while any(p.poll() is None for p in procs):
        for p in procs:
            rc = p.poll()
            if rc not in (None, 0) and code == 0:
                code = rc
                time.sleep(2)  # let the others report; then stop them (they would wait for the failed rank)
                forward(signal.SIGTERM, None)
        time.sleep(0.05)
    for p in procs:
        if p.returncode != 0 and code == 0:
            code = p.returncode
    return 128 - code if code < 0 else code  # killed by signal N → 128 + N, as a shell reports it


# ---- one rank -------------------------------------------------------------------------------------------------


class Fail(Exception):
    """One-line error, exit code 1."""


def lr_at(cfg, step):
    lr = cfg["lr"]
    if cfg.get("lrDecayEvery", 0) > 0 and cfg.get("lrDecay", 1) != 1:
        lr *= math.pow(cfg["lrDecay"], math.floor(step / cfg["lrDecayEvery"]))
    if cfg.get("warmup", 0) > 0 and step < cfg["warmup"]:
        lr *= (step + 1) / cfg["warmup"]
    return lr


def split_streams(B, n):
    parts, b0 = [], 0
    for i in range(n):
        nb = B // n + (1 if i < B % n else 0)
        parts.append((b0, nb))
        b0 += nb
    return parts


def rank_main(a):
    import numpy as np
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    sys.path.insert(0, HERE)
    import rnn_torch as R

    if "RANK" not in os.environ:  # a single process without a launcher: a world of one, on loopback
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = a.backend or ("nccl" if torch.cuda.is_available() else "gloo")
    devkind = a.device or ("cuda" if backend == "nccl" else "cpu")
    if devkind == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend, init_method="env://", timeout=datetime.timedelta(seconds=a.timeout))
    lead = rank == 0
    quiet = a.quiet or a.json

    def say(s):
        if lead and not quiet:
            print(s, flush=True)

    def event(o):
        if lead and a.json:
            print(R.js_json(o), flush=True)

    run = a.run
    latest = os.path.join(run, "latest.safetensors")
    if not os.path.exists(latest):
        raise Fail(f"'{run}' is not an rnn run directory: it has no latest.safetensors")
    model, vocab, cfg = R.load(latest)
    raw_config, raw_vocab = model.meta["config"], model.meta["vocab"]
    step = int(model.meta.get("step", "0"))
    st = R.load_run_state(run, step)
    # every rank must have read the same run (multi-machine: the same files at the same paths)
    with open(latest, "rb") as f:
        digest = f.read(8 + 200)
    mine = [digest]
    theirs = [None]
    if lead:
        theirs = mine
    dist.broadcast_object_list(theirs, src=0)
    if theirs[0] != digest:
        raise Fail(f"rank {rank} read a different {latest} from rank 0's: every machine needs the same run directory")

    # rnn's regularisers and schedule of issue 13 are not reproduced here: refused rather than ignored
    unsupported = [f for f, on in (("--dropout-mode locked", cfg.get("dropoutMode") == "locked"), ("--dropout-input", cfg.get("dropoutInput")),
                                   ("--weight-drop", cfg.get("weightDrop")), ("--embed-dropout", cfg.get("embedDropout")),
                                   ("--lr-schedule cosine", cfg.get("lrSchedule") == "cosine"), ("--ema", cfg.get("ema")),
                                   ("--calibrate", cfg.get("calibrate"))) if on]
    if unsupported:
        raise Fail(f"{run} trains with {', '.join(unsupported)}, which train_ddp.py does not reproduce: continue it with rnn train --resume")
    mc = cfg["model"]
    if mc.get("norm") is not None:  # its parameter order and batch norm's statistics per shard are rnn's own
        raise Fail(f"{run} holds a --norm {mc['norm']} model ({model.label}): train_ddp.py trains models without normalisation; continue it with rnn train --resume {run}")
    L, H, V, cell = mc["layers"], mc["hidden"], mc["vocabSize"], mc["cell"]
    has_c = cell == "lstm"  # the LSTM, with or without forget gate (forgetGate false), carries (h, c)
    if has_c and st.get("c") is None:
        raise Fail(f"{run}: the training state has no carried cell state c for this {model.label}")
    B, T = cfg["batch"], cfg["seq"]
    p_drop = float(cfg.get("dropout", 0) or 0)
    threads = a.rnn_threads if a.rnn_threads is not None else int(cfg.get("threads", 1) or 1)
    if world > B:
        raise Fail(f"{world} ranks for {B} streams (--batch {B}): use at most {B} ranks")
    paths = a.corpus or cfg.get("corpus") or []
    if not paths:
        raise Fail("the run's config names no corpus: give the corpus files after the run directory")
    cvocab, ids = R.read_corpus(paths)
    if cvocab != vocab:
        raise Fail(f"the corpus ({', '.join(paths)}) has a different vocabulary from the run; continue on the same text")
    n_all = len(ids)
    val_len = math.floor(n_all * cfg["valFrac"])
    train_ids, val_ids = ids[: n_all - val_len], ids[n_all - val_len :]
    if len(train_ids) < B * T + 1:
        raise Fail(f"training text has {len(train_ids)} characters; --batch {B} --seq {T} needs {B * T + 1}")
    stream_len = (len(train_ids) - 1) // B
    cpe = stream_len // T
    b0, nb = split_streams(B, world)[rank]
    train_t = torch.as_tensor(train_ids, dtype=torch.long)
    offs = torch.arange(T).view(T, 1)

    def batch(chunk):
        starts = (torch.arange(b0, b0 + nb) * stream_len + chunk * T).view(1, nb)
        at = starts + offs  # [T, nb], time-major
        return train_t[at].to(device), train_t[at + 1].to(device)

    # model, carried state, optimizer
    model.to(device).train()
    model.dropout = p_drop  # masks come from rnn's RNG below
    ddp = DDP(model, device_ids=[local_rank] if devkind == "cuda" else None)
    h_all = st["h"].view(L, B, H)
    h = h_all[:, b0 : b0 + nb].clone().to(device)
    c = st["c"].view(L, B, H)[:, b0 : b0 + nb].clone().to(device) if has_c else None
    rng = R.Rng(state=st["rng"])
    names = [n for n, _ in model.named_parameters()]
    params = [p for _, p in model.named_parameters()]
    sizes = [p.numel() for p in params]
    P = sum(sizes)
    kind = cfg.get("optimizer", "adam")
    wd = cfg.get("weightDecay", 0) or 0
    if cfg.get("orthoOpt", "none") != "none":
        raise Fail(f"{run} trains with --ortho-opt {cfg['orthoOpt']} (recurrent blocks kept orthogonal), which this script does not do; continue it with rnn train --resume")
    if kind == "adam":
        opt = torch.optim.Adam(params, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"], weight_decay=wd, foreach=False)
        slots = ["exp_avg", "exp_avg_sq"]
    elif kind == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=cfg["lr"], alpha=0.99, eps=cfg["eps"], weight_decay=wd, foreach=False)
        slots = ["square_avg"]
    elif kind == "adagrad":
        opt = torch.optim.Adagrad(params, lr=cfg["lr"], eps=1e-10, weight_decay=wd, foreach=False)
        slots = ["sum"]
    elif kind == "sgd":
        mom = cfg.get("momentum", 0) or 0
        opt = torch.optim.SGD(params, lr=cfg["lr"], momentum=mom, weight_decay=wd, foreach=False)
        slots = ["momentum_buffer"] if mom > 0 else []
    else:
        raise Fail(f"optimizer {kind!r} is not supported here")
    slab = st["optimizer"]
    if slab.numel() != len(slots) * P:
        raise Fail(f"{run}: the saved optimizer state ({slab.numel()} values) does not fit {kind} over {P} parameters")
    opt_step = int(st["optStep"])
    # torch's type for the 'step' entry (a tensor in Adam / Adagrad, an int in 1.13's RMSprop)
    probe = torch.nn.Parameter(torch.zeros(1))
    probe.grad = torch.zeros(1)
    popt = type(opt)([probe], **{k: v for k, v in opt.defaults.items() if k in ("lr",)})
    popt.step()
    step_is_tensor = torch.is_tensor(popt.state[probe].get("step")) if "step" in popt.state[probe] else False
    if opt_step > 0 or kind in ("adam", "rmsprop", "adagrad"):
        off = 0
        for p, n in zip(params, sizes):
            s = {}
            for i, slot in enumerate(slots):
                s[slot] = slab[i * P + off : i * P + off + n].view_as(p).clone().to(device)
            if kind != "sgd":
                s["step"] = torch.tensor(float(opt_step)) if step_is_tensor else opt_step
            if kind != "sgd" or (opt_step > 0 and slots):
                opt.state[p] = s
            off += n

    def opt_slab():
        if not slots:
            return torch.zeros(0)
        return torch.cat([opt.state[p][slot].detach().reshape(-1).to("cpu", torch.float32) if p in opt.state and slot in opt.state[p]
                          else torch.zeros(p.numel()) for slot in slots for p in params])

    epoch, chunk = int(st["epoch"]), int(st["chunk"])
    best_val, evals_since, last_val = st["bestValLoss"], int(st["evalsSinceBest"]), st["lastValLoss"]
    start_step, total = step, step + a.steps
    clip, clip_value, ortho = cfg.get("clip", 0) or 0, cfg.get("clipValue", 0) or 0, cfg.get("orthoReg", 0) or 0
    eval_every, ckpt_every, keep = cfg["evalEvery"], cfg["checkpointEvery"], cfg.get("keep", 0) or 0

    best_path = os.path.join(run, "best.safetensors")
    best_file = None
    if os.path.exists(best_path):
        try:
            _, bm = R.read_safetensors(best_path)
            best_file = None if bm.get("best_val_loss") in (None, "null") else float(bm["best_val_loss"])
        except (R.RnnFormatError, ValueError):
            best_file = None

    metrics_path = os.path.join(run, "metrics.jsonl")
    metric_lines = []
    if lead and os.path.exists(metrics_path):
        with open(metrics_path, encoding="utf-8") as f:
            for line in f.read().split("\n"):
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if isinstance(o, dict) and isinstance(o.get("step"), (int, float)) and o["step"] <= start_step:
                    metric_lines.append(line)
        R.write_atomic(metrics_path, "".join(l + "\n" for l in metric_lines))

    def gather_state():
        full_h = torch.zeros(L, B, H, device=device)
        full_h[:, b0 : b0 + nb] = h
        dist.all_reduce(full_h)
        full_c = None
        if c is not None:
            full_c = torch.zeros(L, B, H, device=device)
            full_c[:, b0 : b0 + nb] = c
            dist.all_reduce(full_c)
        return full_h.cpu(), (full_c.cpu() if full_c is not None else None)

    def save_latest():
        full_h, full_c = gather_state()  # a collective: every rank
        if not lead:
            return
        state_bytes = R.encode_state({
            "step": step, "epoch": epoch, "chunk": chunk, "rng": rng.get_state(), "optStep": opt_step,
            "bestValLoss": best_val, "evalsSinceBest": evals_since, "lastValLoss": last_val,
            "optimizer": opt_slab(), "h": full_h, "c": full_c,
        })
        model_bytes = R.encode_model(model, vocab, raw_config, step, best_val)
        R.write_atomic(os.path.join(run, "next.state.safetensors"), state_bytes)
        R.write_atomic(latest, model_bytes)  # the commit point
        os.replace(os.path.join(run, "next.state.safetensors"), os.path.join(run, "latest.state.safetensors"))
        event({"type": "checkpoint", "step": step, "path": latest, "kind": "latest"})
        if keep > 0:
            f = os.path.join(run, f"step-{step:06d}.safetensors")
            R.write_atomic(f, model_bytes)
            olds = sorted(x for x in os.listdir(run) if x.startswith("step-") and x.endswith(".safetensors") and x[5:-12].isdigit())
            for x in olds[: max(0, len(olds) - keep)]:
                os.remove(os.path.join(run, x))

    acc = {"loss": 0.0, "n": 0, "norm": 0.0, "clipped": 0}
    last_train_loss, penalty_last = float("nan"), 0.0

    def validate(lr, grad_norm, on_cadence):
        """rank 0 only (as rnn's validate): returns the validation loss or None."""
        nonlocal best_val, evals_since, last_val, best_file
        n = acc["n"]
        line = {"kind": "eval", "step": step, "trainLoss": acc["loss"] / n if n else last_train_loss, "valLoss": None, "lr": lr,
                "gradNorm": acc["norm"] / n if n else grad_norm, "clippedFrac": acc["clipped"] / n if n else 0, "penalty": penalty_last}
        v = None
        improved = False
        if len(val_ids) >= 2:
            s, cnt = R.evaluate_ids(model, val_ids)
            v = s / cnt
            line["valLoss"] = v
            if on_cadence:
                last_val = v
                improved = best_val is None or v < best_val
                if improved:
                    best_val, evals_since = v, 0
                else:
                    evals_since += 1
            if best_file is None or v < best_file:
                best_file = v
                R.write_atomic(best_path, R.encode_model(model, vocab, raw_config, step, v))
                event({"type": "checkpoint", "step": step, "path": best_path, "kind": "best"})
                improved = True
        metric_lines.append(R.js_json(line))
        R.write_atomic(metrics_path, "".join(l + "\n" for l in metric_lines))
        acc.update(loss=0.0, n=0, norm=0.0, clipped=0)
        event({"type": "eval", "step": step, "trainLoss": line["trainLoss"], "valLoss": v, "bestValLoss": best_file, "improved": improved, "lr": lr})
        say(f"  step {step:6d} · train {line['trainLoss']:.4f} · val {'–' if v is None else f'{v:.4f} ({v / math.log(2):.3f} bpc)'}{' ★ best' if improved else ''}")
        return v

    def share_eval(lr, grad_norm, on_cadence):
        """validate on rank 0; every rank learns the counters that decide a patience stop."""
        nonlocal evals_since
        v = validate(lr, grad_norm, on_cadence) if lead else None
        t = torch.tensor([float(evals_since)], dtype=torch.float64, device=device)
        dist.broadcast(t, 0)
        evals_since = int(t.item())
        return v

    event({"type": "start", "world": world, "backend": backend, "device": str(device), "startStep": start_step, "totalSteps": total,
           "batch": B, "seq": T, "streamsPerRank": [n for _, n in split_streams(B, world)], "chunksPerEpoch": cpe, "dropoutThreads": threads if p_drop > 0 else None})
    say(f"train_ddp {model.label} {L}×{H} V={V} · {world} rank{'s' if world > 1 else ''} ({backend}, {devkind}) · B{B} T{T} · {kind} · steps {start_step} → {total}")
    t0 = time.time()
    scale = world / (B * T)
    every = max(1, a.steps // 10)
    reason = "steps"
    while True:
        if step >= total:
            break
        if chunk >= cpe:
            epoch += 1
            chunk = 0
            h = torch.zeros_like(h)
            if c is not None:
                c = torch.zeros_like(c)
        lr = lr_at(cfg, step)
        masks = None
        if p_drop > 0:
            m = R.dropout_masks(rng, p_drop, L, T, B, H, threads)[:, :, b0 : b0 + nb]
            masks = torch.from_numpy(np.ascontiguousarray(m)).to(device)
        x, y = batch(chunk)
        opt.zero_grad(set_to_none=False)
        logits, new_state = ddp(x, (h, c) if has_c else h, masks)
        lsum = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum")
        (lsum * scale).backward()
        if has_c:
            h, c = new_state[0].detach(), new_state[1].detach()
        else:
            h = new_state.detach()
        tot = torch.tensor([lsum.item()], dtype=torch.float64, device=device)
        dist.all_reduce(tot)
        loss = tot.item() / (B * T)
        with torch.no_grad():
            grads = [p.grad for p in params]
            penalty = 0.0
            if ortho > 0:
                for l in range(L):
                    W_all, gW = getattr(model.rnn, f"weight_hh_l{l}"), getattr(model.rnn, f"weight_hh_l{l}").grad
                    for g in range(W_all.shape[0] // H):
                        W = W_all[g * H : (g + 1) * H]
                        A = W.t() @ W - torch.eye(H, device=device)
                        penalty += ortho * float((A.double() ** 2).sum())
                        gW[g * H : (g + 1) * H] += W @ (A * (4 * ortho))
            if clip_value > 0:
                for g in grads:
                    g.clamp_(-clip_value, clip_value)
            norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
            finite = math.isfinite(loss) and math.isfinite(norm)
            if not finite:
                raise Fail(f"training diverged at step {step + 1}: the {'loss' if not math.isfinite(loss) else 'gradient norm'} is not finite; "
                           f"{latest} (step {start_step} or the last checkpoint) is unchanged by it. Lower --lr or use --clip")
            if clip > 0:
                coef = clip / (norm + 1e-6)
                if coef < 1:
                    for g in grads:
                        g.mul_(coef)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            opt_step += 1
            if not all(bool(torch.isfinite(p).all()) for p in params):
                raise Fail(f"training diverged at step {step + 1}: the weights overflowed to Inf/NaN. Lower --lr or use --clip")
        penalty_last = penalty
        step += 1
        chunk += 1
        last_train_loss = loss
        acc["loss"] += loss
        acc["n"] += 1
        acc["norm"] += norm
        clipped = clip > 0 and norm > clip
        if clipped:
            acc["clipped"] += 1
        event({"type": "step", "step": step, "totalSteps": total, "epoch": epoch, "loss": loss, "penalty": penalty, "lr": lr,
               "gradNorm": norm, "clipped": clipped, "elapsed": time.time() - t0})
        if (step - start_step) % every == 0:
            say(f"step {step:6d} · loss {loss:.4f} · lr {lr:g} · grad norm {norm:.3f}")
        last = step >= total
        if step % eval_every == 0 and not last:
            share_eval(lr, norm, True)
            if cfg.get("patience", 0) > 0 and evals_since >= cfg["patience"]:
                reason = "patience"
                break
        if step % ckpt_every == 0 and not last:
            save_latest()
    end_val = None
    if acc["n"] > 0 or last_val is None:
        end_val = share_eval(lr_at(cfg, max(0, step - 1)), float("nan"), step % eval_every == 0)
    save_latest()
    event({"type": "end", "step": step, "reason": reason, "trainLoss": last_train_loss, "valLoss": end_val if end_val is not None else last_val,
           "bestValLoss": best_file, "elapsed": time.time() - t0, "out": run})
    took = time.time() - t0
    say(f"done · {step - start_step} steps in {took:.0f}s · {(step - start_step) * B * T / max(took, 1e-9) / 1000:.1f}k chars/s · train {last_train_loss:.4f}"
        f"{'' if end_val is None else f' · val {end_val:.4f}'}\n  saved {latest} · continue with: rnn train --resume {run} --steps N (N counts from the start of the run)")
    leave(dist, world, lead)


def leave(dist, world, lead):
    """Exit together, through the rendezvous store (synchronous requests to rank 0's server) rather than a
    final gloo barrier: a rank leaving while a peer's last collective message is in flight can leave that
    peer waiting for it. Every rank checks in; rank 0, the store's host, leaves last."""
    try:
        store = dist.distributed_c10d._get_default_store()
    except Exception:  # pragma: no cover - a torch without it: the barrier then
        dist.barrier()
        return
    store.add("rnn_train_ddp_done", 1)
    if lead:
        while store.add("rnn_train_ddp_done", 0) < world:
            time.sleep(0.01)


def main(argv):
    a = parse_args(argv)
    if a.nproc and "RANK" not in os.environ:
        return launch(a.nproc, argv)
    try:
        rank_main(a)
    except Fail as e:
        who = f" (rank {os.environ.get('RANK')})" if os.environ.get("WORLD_SIZE", "1") != "1" else ""
        print(f"train_ddp: error{who}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # one line unless RNN_DEBUG is set
        if os.environ.get("RNN_DEBUG"):
            raise
        name = type(e).__name__
        if name == "RnnFormatError" or isinstance(e, OSError):
            print(f"train_ddp: error: {e}", file=sys.stderr)
        else:
            print(f"train_ddp: error: {name}: {str(e).splitlines()[0] if str(e) else ''} (set RNN_DEBUG=1 for details)", file=sys.stderr)
        return 1
    if os.environ.get("WORLD_SIZE", "1") != "1":
        # a rank is done (its files written, leave() passed): skip the interpreter's teardown, where gloo's
        # threads can still abort the process ("terminate called without an active exception", exit 134)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
