"""The torch-free method catalog agrees with the method classes; hparams files follow their schema; parsing the
Snakefile imports no torch."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seqedit.methods import check_agrees_with_catalog, get_method
from seqedit.methods.catalog import CATALOG
from seqedit.methods.hparams import COMPUTE_BLOCK, HparamsFileError, check_required, load_hparams

ROOT = Path(__file__).resolve().parents[1]
HP_DIR = ROOT / "config" / "hparams"
METHODS_DIR = ROOT / "src" / "seqedit" / "methods"
VALUE_OPT_METHODS = ("rome", "memit", "d4s", "pmet", "alphaedit")  # share value_opt / keys / upper


def every_set(method):
    data = yaml.safe_load((HP_DIR / f"{method}.yaml").read_text())
    return [(model, name) for model, sets in data.items() for name in sets if name != COMPUTE_BLOCK]


def hp_keys_read(path: Path) -> set[str]:
    """Constant keys a module reads from a hyperparameter dict: ``hp[...]``, ``hp.get(...)`` (also ``self.hp``,
    ``hparams``)."""
    def is_hp(node):
        return (isinstance(node, ast.Name) and node.id in ("hp", "hparams")) or \
            (isinstance(node, ast.Attribute) and node.attr == "hp")

    keys = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and is_hp(node.value) and isinstance(node.slice, ast.Constant):
            keys.add(node.slice.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and is_hp(node.func.value) and node.args and isinstance(node.args[0], ast.Constant):
            keys.add(node.args[0].value)
    return keys


def test_the_catalog_names_every_method_module():
    modules = {p.stem for p in METHODS_DIR.glob("*.py")} - {"__init__", "base", "catalog", "hparams", "value_opt",
                                                             "keys", "upper", "packed_suffix", "rank_one",
                                                             "null_space_solve", "fixed_lower"}
    assert modules == set(CATALOG)
    assert {p.stem for p in HP_DIR.glob("*.yaml")} == set(CATALOG)


@pytest.mark.parametrize("method", sorted(CATALOG))
def test_catalog_agrees_with_the_class(method):
    examples = [load_hparams(HP_DIR / f"{method}.yaml", model, name) for model, name in every_set(method)]
    if "layers" in CATALOG[method].required:  # both sides of a switch such as ROME's mom2_adjustment
        examples += [{**examples[0], "mom2_adjustment": flag} for flag in (True, False)]
    check_agrees_with_catalog(get_method(method), examples)


def test_a_disagreeing_class_is_refused():
    class Drifted(get_method("memit")):
        uses_stats = False
        required = ("layers",)

    with pytest.raises(AssertionError, match="required keys.*uses_stats"):
        check_agrees_with_catalog(Drifted)


@pytest.mark.parametrize("method", sorted(CATALOG))
def test_every_key_a_method_module_reads_is_in_the_catalog(method):
    unknown = hp_keys_read(METHODS_DIR / f"{method}.py") - CATALOG[method].keys
    assert not unknown, f"methods/{method}.py reads {sorted(unknown)}: list them in methods/catalog.py"


def test_every_key_the_shared_helpers_read_is_known_to_their_methods():
    read = set().union(*(hp_keys_read(METHODS_DIR / f"{m}.py") for m in ("value_opt", "keys", "upper")))
    for method in VALUE_OPT_METHODS:
        assert read <= CATALOG[method].keys | {"mom2_update_weight"}, (method, read - CATALOG[method].keys)


@pytest.mark.parametrize("method", sorted(CATALOG))
def test_every_shipped_set_follows_the_schema_and_has_the_required_keys(method):
    for model, name in every_set(method):
        check_required(HP_DIR / f"{method}.yaml", model, name)


def write(tmp_path, text, method="rome"):
    path = tmp_path / f"{method}.yaml"
    path.write_text(text)
    return path


def test_a_misspelled_key_names_file_model_set_and_key(tmp_path):
    path = write(tmp_path, "m:\n  reference: {layers: [3], v_lrr: 0.5}\n  tuned: {base: reference}\n")
    with pytest.raises(HparamsFileError, match=rf"{re.escape(str(path))}: model 'm', set 'reference': unknown hyperparameter "
                                               r"'v_lrr' for method rome \(did you mean 'v_lr'\?\)"):
        load_hparams(path, "m", "tuned")


def test_an_unknown_key_in_the_compute_block_or_an_unused_set_is_refused(tmp_path):
    path = write(tmp_path, "m:\n  compute: {value_blok: 4}\n  tuned: {v_lr: 0.5}\n", "d4s")
    with pytest.raises(HparamsFileError, match=r"compute block: unknown hyperparameter 'value_blok'.*value_block"):
        load_hparams(path, "m", "tuned")
    path = write(tmp_path, "m:\n  tuned: {v_lr: 0.5}\n  old: {lr_v: 1}\n")
    with pytest.raises(HparamsFileError, match="set 'old': unknown hyperparameter 'lr_v'"):
        load_hparams(path, "m", "tuned")


def test_base_chains_resolve_and_bad_bases_are_named(tmp_path):
    path = write(tmp_path, "m:\n  a: {v_lr: 1, kl_factor: 0.1, notes: cited}\n  b: {base: a, v_lr: 2}\n"
                           "  c: {base: b, kl_factor: 0.2}\n")
    assert load_hparams(path, "m", "c") == {"v_lr": 2, "kl_factor": 0.2}
    path = write(tmp_path, "m:\n  a: {base: b}\n  b: {base: a}\n")
    with pytest.raises(HparamsFileError, match=r"form a loop \(a -> b -> a\)"):
        load_hparams(path, "m", "a")
    path = write(tmp_path, "m:\n  a: {base: refrence}\n  reference: {v_lr: 1}\n")
    with pytest.raises(HparamsFileError, match="set 'a': base 'refrence' is not a set of model 'm'"):
        load_hparams(path, "m", "a")


def test_the_compute_block_is_merged_unless_asked_not_to(tmp_path):
    path = write(tmp_path, "m:\n  compute: {value_block: 4}\n  tuned: {v_lr: 0.5}\n", "d4s")
    assert load_hparams(path, "m", "tuned") == {"value_block": 4, "v_lr": 0.5}
    assert load_hparams(path, "m", "tuned", with_compute=False) == {"v_lr": 0.5}


def test_parsing_the_snakefile_imports_no_torch(tmp_path):
    """`snakemake -n` on the default config (through the API, in this process) leaves torch unimported."""
    script = (
        "import sys\n"
        "from snakemake.cli import main\n"
        "try:\n"
        f"    main(['-n', '-q', '--cores', '1', '-s', {str(ROOT / 'Snakefile')!r}, '-d', {str(tmp_path)!r},\n"
        f"          '--configfile', {str(ROOT / 'config.yaml')!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "heavy = [m for m in ('torch', 'transformers', 'lm_eval') if m in sys.modules]\n"
        "assert not heavy, f'parsing the Snakefile imported {heavy}'\n"
        "print('light')\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and "light" in res.stdout, res.stdout[-2000:] + res.stderr[-3000:]
