"""FID features: torch-fidelity's Inception from a local file, and our Fréchet distance against theirs."""

import numpy as np
import pytest
import torch

from pde_bench.conventions import InputError
from piddm.evaluate.image_metrics import frechet_distance
from piddm.images.inception import inception_features, load_inception, to_uint8_rgb


def test_our_frechet_distance_is_torch_fidelitys():
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 12))
    b = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12)) * 0.5 + 0.3
    theirs = fid_statistics_to_metric(fid_features_to_statistics(torch.from_numpy(a)),
                                      fid_features_to_statistics(torch.from_numpy(b)), verbose=False)[KEY_METRIC_FID]
    assert frechet_distance(a, b) == pytest.approx(theirs, rel=1e-8)
    assert frechet_distance(b, a) == pytest.approx(theirs, rel=1e-8)
    few, other = rng.normal(size=(20, 50)), rng.normal(size=(30, 50)) + 0.2  # fewer samples than dimensions
    theirs = fid_statistics_to_metric(fid_features_to_statistics(torch.from_numpy(few)),
                                      fid_features_to_statistics(torch.from_numpy(other)), verbose=False)[KEY_METRIC_FID]
    assert frechet_distance(few, other) == pytest.approx(theirs, rel=1e-6)
    assert frechet_distance(other, few) == pytest.approx(theirs, rel=1e-6)


def test_images_are_quantised_to_8_bits_and_grey_is_repeated_to_rgb():
    x = torch.tensor([-1.0, -0.999, 0.0, 1.0, 2.0]).view(1, 1, 1, 5)
    q = to_uint8_rgb(x)
    assert q.dtype == torch.uint8 and q.shape == (1, 3, 1, 5)
    assert q[0, 0, 0].tolist() == [0, 0, 128, 255, 255] and torch.equal(q[:, 0], q[:, 2])
    u8 = np.arange(12, dtype=np.uint8).reshape(1, 3, 2, 2)
    assert torch.equal(to_uint8_rgb(u8), torch.from_numpy(u8))  # uint8 input passes unchanged
    with pytest.raises(ValueError, match="got shape"):
        to_uint8_rgb(torch.zeros(1, 2, 4, 4))


def test_features_are_torch_fidelitys_on_the_quantised_images(random_inception):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    x = torch.rand(3, 1, 32, 32) * 2 - 1
    ours = inception_features(load_inception(random_inception), x, batch=2)
    ref = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(random_inception))
    (theirs,) = ref(((x + 1) * 127.5).round().to(torch.uint8).repeat(1, 3, 1, 1))
    assert ours.shape == (3, 2048) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs.double().numpy(), rtol=1e-5, atol=1e-6)
    u8 = ((x + 1) * 127.5).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(inception_features(load_inception(random_inception), u8), ours)


def test_a_missing_or_foreign_weights_file_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError, match=r"weights-inception-2015-12-05-6726825d\.pth .*--inception"):
        load_inception(tmp_path / "none.pth")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(InputError, match="not torch-fidelity's Inception-v3"):
        load_inception(tmp_path / "other.pth")
    torch.save({"fn": print}, tmp_path / "code.pth")  # a pickled callable: refused by weights_only
    with pytest.raises(InputError, match="not a readable Inception weights file"):
        load_inception(tmp_path / "code.pth")
    torch.save({"fc.weight": torch.zeros(1), "Mixed_7c.branch_pool.conv.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(InputError, match="does not fit"):
        load_inception(tmp_path / "bad.pth")
