"""Sequential editing up to one checkpoint.

``seqedit edit ... --n-edits K --out step_K.safetensors [--resume step_J.safetensors]`` loads the base model,
restores the state after J edits (edited weights, the method's own state, the context templates and the log),
applies requests J+1..K one at a time and writes checkpoint K. Extending a run only computes the new segment, and
a killed run restarts from its last complete checkpoint.

An MQuAKE request (one with ``requested_rewrites``) is edited by applying its rewrites in turn, each as a
sub-request ``{case_id}/{j}``; each applied rewrite is one log record (one weight edit), and ``n_edits`` counts
requests (cases), ``n_weight_edits`` log records. Every record carries ``request`` (the 1-based index of the request
it belongs to: records with ``request <= k`` are those of checkpoint k).

Immediate protocol (on by default, ``--no-immediate-eval`` turns it off): right after each edit the edited request
is evaluated on the current model and stored as ``record["immediate"] = {efficacy, paraphrase, specificity}``
(EasyEdit token accuracy, as :mod:`seqedit.evaluation.metrics`; specificity against the unedited model's argmax
tokens at the locality prompts, computed for the segment's requests on the base weights before a checkpoint is
restored; for an MQuAKE rewrite only efficacy, on its own cloze prompt), with its cost in ``immediate_seconds``.
"""
from __future__ import annotations

import argparse
import random
import time

import torch
from tqdm import tqdm

from .checkpoints import load_checkpoint, save_checkpoint
from .evaluation import metrics
from .files import read_jsonl
from .finite import NonFiniteEditError, check_edit
from .methods import get_method
from .methods.base import StatsLoader
from .methods.hparams import load_hparams
from .models import matmul_option
from .models.loading import DTYPES, load_model_and_tokenizer
from .models.registry import get_model_spec
from .nethooks import get_parameter, set_weights
from .resume import check_resume
from .tokens import generate_context_templates


def mean_abs(t: torch.Tensor) -> float:
    return t.detach().abs().float().mean().item()


def sub_requests(request: dict) -> list[dict]:
    """The weight edits of one request: the request itself, or one per rewrite of an MQuAKE case."""
    rewrites = request.get("requested_rewrites")
    if not rewrites:
        return [request]
    return [{"id": f"{request['id']}/{j}", "dataset": request.get("dataset"), "subject": rw["subject"],
             "prompt": rw["prompt"], "target_new": rw["target_new"], "target_true": rw.get("target_true"),
             "paraphrase_prompts": [], "locality_prompts": [], "locality_answers": []}
            for j, rw in enumerate(rewrites)]


class SequentialEditor:
    """Holds the model, one method instance and the running log; :meth:`run` edits a range of requests."""

    def __init__(self, model, tok, model_name: str, method_name: str, hparams: dict, stats_dir=None,
                 context_templates=None, seed: int = 0, immediate_eval: bool = True, hparams_set: str | None = None):
        spec = get_model_spec(model_name)
        self.seed, self.hparams_set = seed, hparams_set  # recorded in checkpoints; named in errors
        self.model, self.tok, self.arch = model, tok, spec.architecture
        self.model_name, self.method_name, self.hparams = model_name, method_name, hparams
        cls = get_method(method_name)
        if context_templates is None:
            lengths = hparams.get("context_template_length_params", [[10, 5]])
            context_templates = generate_context_templates(model, tok, lengths, seed=seed)
        self.context_templates = context_templates
        stats = StatsLoader(stats_dir, device=next(model.parameters()).device) if stats_dir else None
        self.method = cls(model, tok, self.arch, hparams, stats, context_templates)
        self.params = self.method.edited_params()
        self.w0 = {p: get_parameter(model, p).detach().clone() for p in self.params}
        self.log: list[dict] = []
        self.request_ids: list[str] = []
        self.immediate_eval = immediate_eval
        self.base_locality: dict[str, list[list[int]]] = {}  # sub-request id -> unedited argmax tokens
        self.pristine = True  # the model still holds the base weights (nothing restored or edited yet)

    def restore(self, weights: dict, state: dict, meta: dict) -> None:
        set_weights(self.model, weights)
        self.method.load_state_dict(state)
        self.log = list(meta["log"])
        self.request_ids = list(meta["request_ids"])
        self.pristine = False

    def prepare_immediate(self, requests: list[dict]) -> None:
        """Unedited argmax tokens at the locality prompts of ``requests``, for the immediate Specificity.

        Must run on the unedited model: before :meth:`restore` and before any edit. For a method that edits
        weights it can also run later (the base weights are swapped in for the time of the forward passes)."""
        subs = [s for r in requests for s in sub_requests(r) if s["id"] not in self.base_locality]
        if not subs:
            return
        if self.pristine:
            self.base_locality.update(metrics.base_locality_predictions(self.model, self.tok, subs))
            return
        if not self.method.edits_weights:
            raise RuntimeError(f"{self.method_name}: the immediate evaluation needs the unedited model's locality "
                               "predictions; call prepare_immediate() before restore() and before editing")
        current = {p: get_parameter(self.model, p).detach().clone() for p in self.params}
        set_weights(self.model, self.w0)
        try:
            self.base_locality.update(metrics.base_locality_predictions(self.model, self.tok, subs))
        finally:
            set_weights(self.model, current)

    def edit_request(self, request: dict) -> list[dict]:
        """Apply one request (all rewrites of an MQuAKE case); return its log records."""
        if self.immediate_eval:
            self.prepare_immediate([request])
        index = len(self.request_ids) + 1
        records = []
        for sub in sub_requests(request):
            record = self.edit_one(sub, index)
            if self.immediate_eval:
                t0 = time.perf_counter()
                base = self.base_locality.get(sub["id"])
                record["immediate"] = metrics.immediate_record(self.model, self.tok, sub, base)
                record["immediate_seconds"] = time.perf_counter() - t0
            records.append(record)
        self.request_ids.append(request["id"])
        return records

    def edit_one(self, request: dict, request_index: int | None = None) -> dict:
        """Apply one weight edit (a plain request or one MQuAKE rewrite) and log it; no immediate evaluation."""
        before = {p: get_parameter(self.model, p).detach().clone() for p in self.params}
        t0 = time.perf_counter()
        try:
            out = self.method.edit(request)
        except NonFiniteEditError:
            raise
        except FloatingPointError as err:  # e.g. a diverging value optimisation: name the edit and the set
            raise NonFiniteEditError(f"{self.method_name}: edit {len(self.log) + 1} (request {request['id']!r}), "
                                     f"hyperparameter set {self.hparams_set!r}: {err}") from err
        seconds = time.perf_counter() - t0
        check_edit({p: get_parameter(self.model, p) for p in self.params}, out, method=self.method_name,
                   edit_index=len(self.log) + 1, request_id=request["id"], hparams_set=self.hparams_set)
        layers = {}
        for p in self.params:
            w = get_parameter(self.model, p).detach()
            layers[p] = {"mean_abs_w": mean_abs(w), "mean_abs_delta_total": mean_abs(w - self.w0[p]),
                         "mean_abs_delta_step": mean_abs(w - before[p])}
        self.pristine = False
        if request_index is None:  # called on its own: the request is the whole edit
            request_index = len(self.request_ids) + 1
            self.request_ids.append(request["id"])
        record = {"edit": len(self.log) + 1, "request": request_index, "id": request["id"], "seconds": seconds,
                  **out, "layers": layers}
        self.log.append(record)
        return record

    def run(self, requests: list[dict], progress: bool = True) -> None:
        if self.immediate_eval:
            self.prepare_immediate(requests)
        if hasattr(self.method, "upcoming"):  # methods that work ahead (D4S optimises values in blocks)
            self.method.upcoming([sub for req in requests for sub in sub_requests(req)])
        for req in tqdm(requests, desc=f"{self.method_name} edits", disable=not progress):
            self.edit_request(req)

    def checkpoint(self, path, dataset: str, hparams_set: str) -> None:
        """Write the checkpoint with everything that determines it (what ``--resume`` checks, see resume.py)."""
        weights = {p: get_parameter(self.model, p).detach() for p in self.params} if self.method.edits_weights else {}
        dtype = str(next(self.model.parameters()).dtype).removeprefix("torch.")
        meta = {"model": self.model_name, "dataset": dataset, "method": self.method_name,
                "n_edits": len(self.request_ids), "n_weight_edits": len(self.log), "hparams_set": hparams_set,
                "hparams": self.hparams, "seed": self.seed, "dtype": dtype, "edited_params": self.params,
                "context_templates": self.context_templates, "request_ids": self.request_ids, "log": self.log}
        save_checkpoint(path, weights, self.method.state_dict(), meta)


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--model-name", required=True)
    p.add_argument("--requests", required=True, help="normalised requests (JSONL)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--hparams-file", required=True)
    p.add_argument("--hparams-set", default="tuned")
    p.add_argument("--stats-dir", default=None)
    p.add_argument("--n-edits", type=int, required=True)
    p.add_argument("--resume", default=None, help="checkpoint after fewer edits to continue from")
    p.add_argument("--out", required=True)
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--device", default="auto")
    matmul_option.add_option(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-immediate-eval", dest="immediate_eval", action="store_false",
                   help="do not evaluate each request right after its edit (the immediate protocol)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    hparams = load_hparams(a.hparams_file, a.model_name, a.hparams_set)
    requests = read_jsonl(a.requests)
    if a.n_edits > len(requests):
        raise ValueError(f"--n-edits {a.n_edits} but {a.requests} holds only {len(requests)} requests")
    model, tok = load_model_and_tokenizer(a.model_dir, a.dtype, a.device, a.cpu_matmul)
    start, templates, resume = 0, None, None
    if a.resume:
        resume = load_checkpoint(a.resume)
        meta = resume[2]
        want = {"model": a.model_name, "dataset": a.dataset, "method": a.method, "hparams_set": a.hparams_set,
                "hparams": hparams, "seed": a.seed, "dtype": str(next(model.parameters()).dtype).removeprefix("torch.")}
        check_resume(a.resume, meta, want, [r["id"] for r in requests], a.n_edits)
        start, templates = meta["n_edits"], meta["context_templates"]
    editor = SequentialEditor(model, tok, a.model_name, a.method, hparams, a.stats_dir, templates, a.seed,
                              immediate_eval=a.immediate_eval, hparams_set=a.hparams_set)
    segment = requests[start:a.n_edits]
    if a.immediate_eval:
        editor.prepare_immediate(segment)  # on the base weights, before the checkpoint is restored
    if resume is not None:
        editor.restore(*resume)
    first = len(editor.log)
    editor.run(segment)
    editor.checkpoint(a.out, a.dataset, a.hparams_set)
    new = editor.log[first:]
    if new:
        secs = sorted(r["seconds"] for r in new)
        line = (f"{a.method}: requests {start + 1}..{a.n_edits} ({len(new)} weight edits), "
                f"median {secs[len(secs) // 2]:.2f} s/edit")
        if a.immediate_eval:
            ev = sorted(r["immediate_seconds"] for r in new)
            line += f", immediate evaluation median {ev[len(ev) // 2]:.3f} s/edit"
        print(line)
