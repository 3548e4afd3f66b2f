"""Fast models (cnn_lib.fast): the tutorial's network from fast layers, fit, train_on_batch, evaluate.

The model protocol and gradient checks of every model are in test_protocol.py, checkpoints in
test_checkpoint.py, optimisers and schedules in test_optim.py, the command line in test_cli.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cnn_lib import TrainingDiverged, TutorialCNN, evaluate, load_subset, preprocess_batch, train_tutorial
from cnn_lib.fast import (SGD, Adam, Dense, Flatten, Sequential, deep_model, fit, softmax_cross_entropy, train_on_batch,
                          tutorial_model)


@pytest.fixture(scope="module")
def subset():
    return load_subset()


# --- the tutorial's network from fast layers --------------------------------------------------

def test_tutorial_model_starts_with_tutorialcnn_weights():
    net, model = TutorialCNN(np.random.default_rng(3)), tutorial_model(np.random.default_rng(3))
    np.testing.assert_array_equal(model.layers[0].filters[..., 0], net.conv.filters)
    np.testing.assert_array_equal(model.layers[2].weights, net.softmax.weights)
    assert list(model.params()) == ["0.filters", "2.weights", "2.biases"]
    assert list(net.params()) == ["conv.filters", "softmax.weights", "softmax.biases"]


def test_batch_gradient_is_the_mean_of_per_image_gradients(subset):
    """Both models' loss_and_grads: the mean loss and the mean of the per-image gradients."""
    images, labels = subset[0][:5], subset[1][:5]
    net, model = TutorialCNN(np.random.default_rng(1)), tutorial_model(np.random.default_rng(1))
    losses, sums = [], {"filters": 0, "weights": 0, "biases": 0}
    for image, label in zip(images, labels):
        out, loss, _ = net.forward(image, int(label))
        net.backward(out, int(label))
        losses.append(loss)
        sums["filters"] = sums["filters"] + net.conv.d_L_d_filters
        sums["weights"] = sums["weights"] + net.softmax.d_L_d_weights
        sums["biases"] = sums["biases"] + net.softmax.d_L_d_biases

    fast_loss, fast_probabilities = model.loss_and_grads(images, labels)
    loop_loss, loop_probabilities = net.loss_and_grads(images, labels)
    for loss, grads, filters in ((fast_loss, model.grads(), "0.filters"), (loop_loss, net.grads(), "conv.filters")):
        assert loss == pytest.approx(np.mean(losses), abs=1e-12)
        np.testing.assert_allclose(grads[filters].reshape(sums["filters"].shape), sums["filters"] / 5, atol=1e-10)
    np.testing.assert_allclose(model.grads()["2.weights"], sums["weights"] / 5, atol=1e-10)
    np.testing.assert_allclose(net.grads()["softmax.weights"], sums["weights"] / 5, atol=1e-10)
    np.testing.assert_allclose(model.grads()["2.biases"], sums["biases"] / 5, atol=1e-10)
    np.testing.assert_allclose(net.grads()["softmax.biases"], sums["biases"] / 5, atol=1e-10)
    np.testing.assert_allclose(fast_probabilities, loop_probabilities, atol=1e-12)


def test_batch_1_sgd_follows_the_tutorials_training_trajectory(subset):
    """fit(batch 1, SGD 0.005) with the seed's generator = train_tutorial(seed), step by step."""
    images, labels = subset[0][:50], subset[1][:50]
    net, history = train_tutorial(images, labels, num_epochs=2, lr=0.005, seed=7, log=None)
    rng = np.random.default_rng(7)
    model = tutorial_model(rng, np.float64)
    fast = fit(model, images, labels, batch_size=1, num_epochs=2, optimizer=SGD(0.005), rng=rng, log=None)
    np.testing.assert_allclose(fast.batch_loss, history.step_loss.ravel(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[0].filters[..., 0], net.conv.filters, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[2].weights, net.softmax.weights, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[2].biases, net.softmax.biases, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.epoch_accuracy, history.epoch_accuracy, atol=1e-12)


def test_the_tutorials_run_reaches_its_accuracy(subset):
    """The tutorial's run (1k/1k images, 3 epochs, SGD lr 0.005, seed 0) lands near its 0.78
    test accuracy (measured: 0.815, loss 0.554). It is run through its exact fast twin (the test
    above: same steps to 1e-10), since train_tutorial's loop layers take about 2 minutes."""
    rng = np.random.default_rng(0)   # what train_tutorial(seed=0) draws the weights and shuffles from
    model = tutorial_model(rng, np.float64)
    history = fit(model, subset[0], subset[1], batch_size=1, num_epochs=3, optimizer=SGD(0.005), rng=rng, log=None)
    result = evaluate(model, subset[2], subset[3])
    assert 0.70 <= result.accuracy <= 0.88
    assert result.loss < 0.8
    assert history.epoch_loss[-1] < history.epoch_loss[0]


def test_deep_model_shapes_and_a_few_epochs_learn(subset):
    """(Its full-MNIST accuracy is the shipped network's, tested in test_pretrained.py.)"""
    train_images, train_labels, test_images, test_labels = subset
    model = deep_model(np.random.default_rng(0), np.float32)
    assert model.forward(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)
    assert model.num_params() == 16 * 25 + 16 + 32 * 16 * 25 + 32 + 512 * 128 + 128 + 128 * 10 + 10
    history = fit(model, train_images[:300], train_labels[:300], batch_size=32, num_epochs=2,
                  optimizer=Adam(0.002), rng=np.random.default_rng(0), log=None)
    assert history.epoch_loss[-1] < history.epoch_loss[0]
    result = evaluate(model, test_images[:300], test_labels[:300])
    assert result.accuracy > 0.5, result.accuracy   # chance is 0.1
    assert result.predictions.shape == (300,) and result.probabilities.shape == (300, 10)


def test_evaluate_is_one_function_for_both_families(subset):
    images, labels = subset[2][:20], subset[3][:20]
    loop = evaluate(TutorialCNN(np.random.default_rng(4)), images, labels)
    fast = evaluate(tutorial_model(np.random.default_rng(4)), images, labels)
    np.testing.assert_allclose(loop.probabilities, fast.probabilities, atol=1e-12)
    np.testing.assert_array_equal(loop.predictions, fast.predictions)
    assert loop.loss == pytest.approx(fast.loss, abs=1e-12) and loop.accuracy == fast.accuracy
    np.testing.assert_allclose(loop.losses, -np.log(loop.probabilities[np.arange(20), labels]))


def test_predict_proba_in_batches_gives_the_same_numbers(subset):
    model = tutorial_model(np.random.default_rng(0), np.float32)
    # (equal up to float32 rounding: the matrix library may sum a batch of 7 in another order)
    np.testing.assert_allclose(model.predict_proba(subset[0][:50], batch_size=7),
                               model.predict_proba(subset[0][:50]), rtol=1e-6)
    assert model.predict_proba(subset[0][:3]).dtype == np.float32


def test_sequential_from_config_rebuilds_the_layers():
    model = deep_model(np.random.default_rng(0), np.float64)
    rebuilt = Sequential.from_config(model.config(), np.random.default_rng(5))
    assert rebuilt.config() == model.config()
    assert [type(layer) for layer in rebuilt.layers] == [type(layer) for layer in model.layers]
    assert not np.array_equal(rebuilt.params()["0.filters"], model.params()["0.filters"])  # fresh weights


# --- fit and train_on_batch --------------------------------------------------------------------

def test_fit_history_and_progress(subset):
    images, labels = subset[0][:100], subset[1][:100]
    model = tutorial_model(np.random.default_rng(0), np.float32)
    lines, progress = [], []
    history = fit(model, images, labels, batch_size=32, num_epochs=2, optimizer=Adam(),
                  rng=np.random.default_rng(0), log=lines.append, on_batch=lambda e, done: progress.append((e, done)))
    assert len(history.batch_loss) == 8 and len(history.epoch_loss) == 2   # 32+32+32+4 per epoch
    assert progress[:4] == [(0, 32), (0, 64), (0, 96), (0, 100)] and progress[-1] == (1, 100)
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2: training loss ") and "lr 0.001" in lines[0] and "images/s" in lines[0]
    assert history.images == 200 and history.images_per_second > 0
    assert history.epoch_loss[0] == pytest.approx(np.average(history.batch_loss[:4], weights=[32, 32, 32, 4]))
    result = evaluate(model, images, labels)
    assert 0 <= result.accuracy <= 1 and np.isfinite(result.loss)
    untrained = evaluate(tutorial_model(np.random.default_rng(0)), images, labels)
    assert untrained.loss == pytest.approx(np.log(10), abs=0.05)


def test_fit_checks_its_arguments(subset):
    model, images, labels = tutorial_model(np.random.default_rng(0)), subset[0][:8], subset[1][:8]
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        fit(model, images, labels, batch_size=0, log=None)
    with pytest.raises(ValueError, match="num_epochs must be a whole number >= 0"):
        fit(model, images, labels, num_epochs=-1, log=None)
    with pytest.raises(ValueError, match="training labels must be digits"):
        fit(model, images, labels + 10, log=None)
    with pytest.raises(ValueError, match="pixel values 0..255"):
        fit(model, images / 255.0 - 0.5, labels, log=None)


def test_fit_with_zero_epochs_trains_nothing_and_reports_no_speed(subset):
    """Issue 9: fit(num_epochs=0) reported a training speed (0 images/s, and nan when no time had
    passed) for a run that trained nothing. Now it logs nothing and has no speed."""
    model = tutorial_model(np.random.default_rng(0))
    before = {name: value.copy() for name, value in model.params().items()}
    lines = []
    history = fit(model, subset[0][:10], subset[1][:10], num_epochs=0, log=lines.append)
    assert lines == []
    assert history.images == 0 and history.images_per_second is None
    assert history.epoch_loss == [] and history.epoch_lr == []
    for name, value in model.params().items():
        np.testing.assert_array_equal(value, before[name])


def test_train_on_batch_reports_before_the_update_and_takes_one_step(subset):
    images, labels = subset[0][:16], subset[1][:16]
    model = tutorial_model(np.random.default_rng(0))
    twin = tutorial_model(np.random.default_rng(0))
    loss, probabilities = twin.loss_and_grads(images, labels)
    expected = {name: value - 0.3 * twin.grads()[name] for name, value in twin.params().items()}
    optimizer = SGD(0.1)
    assert train_on_batch(model, images, labels, optimizer, lr=0.3) == (
        pytest.approx(loss, abs=1e-15), int(np.sum(np.argmax(probabilities, axis=1) == labels)))
    for name, value in model.params().items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-14, atol=1e-16)
    assert optimizer.lr == 0.1


def test_evaluating_between_loss_and_grads_and_the_step_changes_nothing(subset):
    """Issue 9: evaluating in the middle of a training step must not change what the step uses.
    The old loss layer kept the last batch in its state, which an evaluation overwrote; now the
    loss is a function and evaluate changes no weight and no gradient."""
    images, labels = subset[0][:16], subset[1][:16]
    model = deep_model(np.random.default_rng(0), np.float64)
    twin = deep_model(np.random.default_rng(0), np.float64)
    loss, probabilities = model.loss_and_grads(images, labels)
    twin.loss_and_grads(images, labels)
    kept_probabilities = probabilities.copy()
    before = {name: value.copy() for name, value in model.params().items()}

    evaluate(model, subset[2][:50], subset[3][:50])   # another batch, another size

    for name, gradient in model.grads().items():
        np.testing.assert_array_equal(gradient, twin.grads()[name])
    for name, value in model.params().items():
        np.testing.assert_array_equal(value, before[name])
    np.testing.assert_array_equal(probabilities, kept_probabilities)
    SGD(0.1).step(model.params(), model.grads())
    SGD(0.1).step(twin.params(), twin.grads())
    for name, value in model.params().items():
        np.testing.assert_array_equal(value, twin.params()[name])


def test_a_diverging_fit_raises_training_diverged(subset):
    """A float32 model with lr 1e9 overflows on a later batch: TrainingDiverged names the batch and
    the learning rate (it used to stop with a ValueError about NaN scores, after NumPy warnings)."""
    model = tutorial_model(np.random.default_rng(0), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDiverged, match=r"epoch 1, images \d+-\d+: .*learning rate 1e\+09"):
            fit(model, subset[0][:200], subset[1][:200], batch_size=8, optimizer=SGD(1e9),
                rng=np.random.default_rng(0), log=None)


class ThreadProbe(Flatten):
    """A Flatten that records how many threads the BLAS library may use while it runs."""

    def forward(self, X):
        from threadpoolctl import threadpool_info
        self.seen = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        return super().forward(X)


def test_models_run_with_one_blas_thread_unless_told_otherwise():
    """OpenBLAS with a thread per core collapses when another program keeps a core busy
    (cnn_lib.fast.threads): the fast models limit it to blas_threads() while they run."""
    from threadpoolctl import threadpool_info

    from cnn_lib.fast import blas_threads, use_blas_threads

    images, labels = load_subset()[0][:8], load_subset()[1][:8]
    probe = ThreadProbe()
    model = Sequential([probe, Dense(784, 10, np.random.default_rng(0))])
    outside = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    assert blas_threads() == 1
    model.loss_and_grads(images, labels)
    assert probe.seen and set(probe.seen) == {1}
    model.predict_proba(images)
    assert set(probe.seen) == {1}
    assert [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"] == outside  # restored
    try:
        use_blas_threads(None)
        model.loss_and_grads(images, labels)
        assert probe.seen == outside
    finally:
        use_blas_threads(1)
    with pytest.raises(ValueError, match="limit"):
        use_blas_threads(0)


@pytest.mark.parametrize("make", [tutorial_model, deep_model], ids=["tutorial", "deep"])
def test_a_batch_in_two_halves_gives_the_same_numbers_with_one_or_two_workers(make, monkeypatch):
    """loss_and_grads computes a batch in two halves when they are big enough to run at once
    (cnn_lib.fast.threads); whether one thread or two computes them, the numbers are identical (so a
    training run does not depend on the machine's cores), and equal the whole batch's mean gradient
    to rounding."""
    from cnn_lib.fast import use_workers, workers
    from cnn_lib.fast.threads import batch_parts

    images, labels = load_subset()[0][:40], load_subset()[1][:40].astype(np.int64)
    assert batch_parts(40, 10 ** 6) == [slice(0, 20), slice(20, 40)] and batch_parts(31, 10 ** 9) == [slice(0, 31)]
    assert batch_parts(64, 62192) == [slice(0, 64)]       # the tutorial's network: 2 million multiply-adds a half
    model = make(np.random.default_rng(0), np.float64)
    monkeypatch.setattr("cnn_lib.fast.threads.AT_ONCE_FROM", 0)         # split 40 images, run the halves at once
    before = workers()
    results = {}
    try:
        for count in (1, 2):
            use_workers(count)
            loss, probabilities = model.loss_and_grads(images, labels)
            results[count] = (loss, probabilities, {name: g.copy() for name, g in model.grads().items()},
                              model.predict_proba(images))
    finally:
        use_workers(before)
    assert results[1][0] == results[2][0]
    np.testing.assert_array_equal(results[1][1], results[2][1])
    np.testing.assert_array_equal(results[1][3], results[2][3])
    np.testing.assert_allclose(results[1][3], results[1][1], rtol=1e-12)
    for name, gradient in results[1][2].items():
        np.testing.assert_array_equal(results[2][2][name], gradient)
    # the whole batch at once, through the layers directly: the same mean, up to rounding
    scores = model.forward(preprocess_batch(images))
    whole_loss, d_L_d_scores, _ = softmax_cross_entropy(scores, labels)
    model.backward(d_L_d_scores)
    assert results[1][0] == pytest.approx(whole_loss, rel=1e-12)
    for name, gradient in model.grads().items():
        np.testing.assert_allclose(results[1][2][name], gradient, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="1 or 2"):
        use_workers(3)
    # the copy that computes the second half keeps its own scratch arrays (never the original's)
    twin = model.replica(1)
    for layer, twin_layer in zip(model.layers, twin.layers):
        for name, array in getattr(twin_layer, "scratch_arrays", {}).items():
            assert not np.shares_memory(array, layer.scratch_arrays[name])
    assert twin.layers[0].scratch_arrays is model.replica(1).layers[0].scratch_arrays


def test_validation_images_are_scored_after_every_epoch_and_change_nothing(subset):
    """fit(validation=...) records each epoch's validation loss and accuracy (what evaluate gives
    for the weights at the end of that epoch) and trains exactly as without it."""
    images, labels = subset[0][:200], subset[1][:200]
    held_out = (subset[0][200:300], subset[1][200:300])
    runs = []
    for validation in (None, held_out):
        model = tutorial_model(np.random.default_rng(3), np.float64)
        history = fit(model, images, labels, batch_size=16, num_epochs=2, optimizer=SGD(0.05),
                      rng=np.random.default_rng(4), log=None, validation=validation)
        runs.append((model, history))
    (plain, plain_history), (scored, history) = runs
    for name, value in plain.params().items():
        np.testing.assert_array_equal(scored.params()[name], value)
    assert plain_history.validation_loss == [] and len(history.validation_loss) == 2
    final = evaluate(scored, *held_out)
    assert history.validation_loss[-1] == pytest.approx(final.loss, rel=1e-12)
    assert history.validation_accuracy[-1] == final.accuracy
    assert history.validation_loss[1] < history.validation_loss[0]


def test_a_recipe_holds_out_its_last_images_for_validation(subset):
    from cnn_lib.fast import Recipe, run_recipe
    images, labels = subset[0][:300], subset[1][:300]
    recipe = Recipe(model="tutorial", optimizer="sgd", lr=0.05, num_epochs=1, batch_size=32, validation=100)
    assert recipe.command().endswith("--seed 0 --validation 100")
    assert "--validation" not in Recipe().command()
    model, history = run_recipe(recipe, images, labels)
    assert len(history.batch_loss) == 200 // 32 + 1                      # trained on the first 200 only
    assert history.validation_accuracy == [evaluate(model, images[200:], labels[200:]).accuracy]
    with pytest.raises(ValueError, match="holds out 300 images for validation, but there are only 300"):
        run_recipe(Recipe(validation=300), images, labels)
    with pytest.raises(ValueError, match="validation must be a whole number"):
        Recipe(validation=-1)


def test_the_layers_check_shapes_on_a_new_batch_size_or_new_layers_and_skip_them_when_repeated(monkeypatch):
    """Sequential runs the layers' shape and dtype checks the first time its layers train (or predict) on a
    batch of a given size, and skips them when the same run repeats (``values_already_checked(shapes=True)``):
    a changed layer or a new batch size still gets the layers' own clear error."""
    from cnn_lib.fast import Dense
    from cnn_lib.require import shapes_already_checked, values_already_checked

    images, labels = load_subset()[0][:40], load_subset()[1][:40].astype(np.int64)
    model = tutorial_model(np.random.default_rng(0), np.float32)
    seen = []
    forward = Dense.forward
    monkeypatch.setattr(Dense, "forward", lambda layer, X: (seen.append(shapes_already_checked()), forward(layer, X))[1])
    for _ in range(2):
        model.loss_and_grads(images, labels)
    model.predict_proba(images)
    assert seen == [False, True, False]   # one pass a run (40 images are not split): train, train again, predict
    assert not shapes_already_checked()                       # only inside the run
    with values_already_checked(shapes=True):
        assert shapes_already_checked()
    assert not shapes_already_checked()
    model.layers[2] = Dense(13 * 13 * 4, 10, np.random.default_rng(1), np.float32)   # sized for 4 filters, not 8
    with pytest.raises(ValueError, match="Dense expects input_len = 676"):
        model.loss_and_grads(images, labels)


def test_the_halves_run_at_once_only_when_they_are_big_enough(monkeypatch):
    """A batch is split into two halves only from AT_ONCE_FROM multiply-adds each (.threads.halves_at_once:
    below that two threads lose more time handing the interpreter lock to each other than they gain,
    and one pass over the whole batch makes half the NumPy calls of two); with two workers the halves
    then run at once, except the first batch of a size, which checks every shape, in turn."""
    from cnn_lib.fast import threads, use_workers, workers

    tutorial, deep = tutorial_model(np.random.default_rng(0), np.float32), deep_model(np.random.default_rng(0))
    images, labels = load_subset()[0][:128], load_subset()[1][:128].astype(np.int64)
    seen = []
    run_parts = threads.run_parts
    monkeypatch.setattr("cnn_lib.fast.models.run_parts",
                        lambda work, num_parts, at_once=True: (seen.append((num_parts, at_once)),
                                                               run_parts(work, num_parts, at_once))[1])
    before = workers()
    try:
        use_workers(2)
        for model, n in ((tutorial, 64), (tutorial, 64), (tutorial, 128), (tutorial, 128), (deep, 64), (deep, 64)):
            model.loss_and_grads(images[:n], labels[:n])
        use_workers(1)
        deep.loss_and_grads(images[:64], labels[:64])
    finally:
        use_workers(before)
    # conv 26 * 26 * 8 * 9 and dense 1352 * 10; conv 24 * 24 * 16 * 25, conv 8 * 8 * 32 * 400, dense 512 * 128, 128 * 10
    assert tutorial.multiply_adds_per_image() == 48672 + 13520
    assert deep.multiply_adds_per_image() == 230400 + 819200 + 65536 + 1280
    assert seen == [(1, False), (1, False), (2, False), (2, True), (2, False), (2, True), (2, False)]
