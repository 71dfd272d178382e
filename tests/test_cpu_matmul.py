"""The fp32 linear layers through oneDNN (config ``cpu_matmul: onednn``, seqedit.models.cpu_matmul): the same
outputs and input gradients as PyTorch's ``F.linear`` to float round-off, PyTorch's own path wherever the fast
one does not apply, and the loaded model routed by the setting."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqedit.models import cpu_matmul
from test_architectures import tiny_model

pytestmark = pytest.mark.skipif(not cpu_matmul.available(), reason="this torch build has no oneDNN")


def onednn_layer(d_in=48, d_out=80, bias=True):
    torch.manual_seed(0)
    layer = torch.nn.Linear(d_in, d_out, bias=bias).requires_grad_(False)
    assert cpu_matmul.use_backend(layer, "onednn") == 1
    return layer


def counting(monkeypatch) -> list:
    calls = []
    real = cpu_matmul._onednn

    def spy(x, weight, bias):
        calls.append(tuple(x.shape))
        return real(x, weight, bias)

    monkeypatch.setattr(cpu_matmul, "_onednn", spy)
    return calls


@pytest.mark.parametrize("bias", [True, False])
def test_outputs_and_input_gradients_equal_f_linear(monkeypatch, bias):
    layer = onednn_layer(bias=bias)
    calls = counting(monkeypatch)
    x = torch.randn(3, 7, 48, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out = layer(x)
    ref = F.linear(x_ref, layer.weight, layer.bias)
    upstream = torch.randn_like(ref)
    (out * upstream).sum().backward()
    (ref * upstream).sum().backward()
    assert calls == [(3, 7, 48), (3, 7, 80)]  # the forward and the input gradient both ran through oneDNN
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-5, atol=1e-5)
    assert not torch.equal(x.grad, torch.zeros_like(x.grad))
    with torch.no_grad():  # inference: no autograd node, the same values
        torch.testing.assert_close(layer(x), ref, rtol=1e-5, atol=1e-5)


def test_a_non_contiguous_input_and_gradient():
    layer = onednn_layer()
    x = torch.randn(48, 5, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    upstream = torch.randn(80, 5)
    out, ref = layer(x.t()), F.linear(x_ref.t(), layer.weight, layer.bias)
    (out.t() * upstream).sum().backward()  # the upstream gradient arrives transposed
    (ref.t() * upstream).sum().backward()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-5, atol=1e-5)


def test_what_the_fast_path_does_not_cover_runs_f_linear(monkeypatch):
    calls = counting(monkeypatch)
    layer = onednn_layer()
    layer.weight.requires_grad_(True)  # FT trains its weights: PyTorch's path, with the weight's gradient
    x = torch.randn(4, 48)
    layer(x).sum().backward()
    expected = torch.ones(4, 80).t() @ x
    torch.testing.assert_close(layer.weight.grad, expected)
    layer.weight.requires_grad_(False)
    half = onednn_layer().to(torch.bfloat16)
    out = half(x.to(torch.bfloat16))
    assert torch.equal(out, F.linear(x.to(torch.bfloat16), half.weight, half.bias))
    assert layer(torch.randn(0, 48)).shape == (0, 80)
    assert calls == []


@pytest.mark.parametrize("arch", ["llama", "gptj"])
def test_a_model_is_routed_and_gives_the_same_logits(arch):
    model = tiny_model(arch, 97)
    linears = sum(type(m) is torch.nn.Linear for m in model.modules())
    ids = torch.randint(0, 97, (2, 9))
    with torch.no_grad():
        ref = model(input_ids=ids).logits
        assert cpu_matmul.use_backend(model, "onednn") == linears > 0
        assert all(type(m) is not torch.nn.Linear for m in model.modules())
        out = model(input_ids=ids).logits
        assert cpu_matmul.use_backend(model, "torch") == linears
        back = model(input_ids=ids).logits
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert torch.equal(back, ref)  # PyTorch's path again: bit for bit
    assert set(model.state_dict()) == set(tiny_model(arch, 97).state_dict())


def test_an_unknown_backend_names_the_setting():
    with pytest.raises(ValueError, match="cpu_matmul must be one of onednn, torch, got 'mkl'"):
        cpu_matmul.use_backend(torch.nn.Linear(2, 2), "mkl")


def test_the_loaded_model_follows_the_setting(smollm2_dir):
    from seqedit.models.loading import load_model_and_tokenizer

    model, _ = load_model_and_tokenizer(str(smollm2_dir), "float32", "cpu")  # the default: oneDNN
    assert type(model.get_output_embeddings()) is cpu_matmul.OneDnnLinear
    assert type(model.model.layers[0].mlp.down_proj) is cpu_matmul.OneDnnLinear
    model, _ = load_model_and_tokenizer(str(smollm2_dir), "float32", "cpu", cpu_matmul="torch")
    assert type(model.get_output_embeddings()) is torch.nn.Linear
    with pytest.raises(ValueError, match="cpu_matmul"):
        load_model_and_tokenizer(str(smollm2_dir), "float32", "cpu", cpu_matmul="blas")
