"""The computations behind the widgets (cnn_lib.interactive), each against an independent reference."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_lib import Conv3x3, MaxPool2, load_subset, train_tutorial
from cnn_lib.gradcheck import numerical_gradient, rel_error
from cnn_lib.interactive import (BiasGradientCheck, TrainingStepper, centre_of_mass, conv_backward_stamp,
                                 conv_forward_window, conv_gather_window, ink_box, mnist_like, pool_routing,
                                 rasterize_strokes, read_digit, shipped_networks)
from cnn_lib.interactive.drawing import area_resize_matrix
from cnn_lib.interactive.svg import curve_svg, image_svg


@pytest.fixture(scope="module")
def subset():
    return load_subset()


def random_strokes(rng, size=280):
    """One to three strokes of 2-12 points anywhere on a ``size`` canvas."""
    return [rng.uniform(10, size - 10, size=(rng.integers(2, 13), 2)).tolist() for _ in range(rng.integers(1, 4))]


# --- drawing ---------------------------------------------------------------------------------------------

def test_rasterized_stroke_has_the_pen_width_and_soft_edges():
    ink = rasterize_strokes([[(40, 100.3), (240, 100.3)]], size=280, line_width=20)
    column = ink[:, 140]
    assert column.max() == 1 and 19 <= np.sum(column == 1) <= 21           # full ink across the pen's width
    assert 0 < np.sum((column > 0) & (column < 1)) <= 2                     # anti-aliased edge pixels
    assert ink[100, :30].max() == 0 and ink[100, 251:].max() == 0           # round caps end half a pen away
    dot = rasterize_strokes([[(50, 50)]], line_width=10)
    assert dot.sum() == pytest.approx(np.pi * 25, rel=0.05)                 # a dot is a disc of the pen's area


def test_area_resize_averages_and_keeps_the_total():
    matrix = area_resize_matrix(7, 3)
    assert np.allclose(matrix.sum(axis=1), 1)                               # each new pixel averages
    values = np.arange(7.0)
    assert np.isclose((matrix @ values).sum() * 7 / 3, values.sum())       # area-weighted: the total ink stays
    assert np.allclose(area_resize_matrix(4, 4), np.eye(4))


@pytest.mark.parametrize("seed", range(25))
def test_synthetic_strokes_become_a_20_pixel_box_centred_by_mass(seed):
    rng = np.random.default_rng(seed)
    digit = mnist_like(rasterize_strokes(random_strokes(rng)))
    top, bottom, left, right = ink_box(digit)
    assert max(bottom - top + 1, right - left + 1) == 20
    row, col = centre_of_mass(digit)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5, (row, col)
    assert digit.shape == (28, 28) and digit.max() == pytest.approx(255) and digit.min() == 0


def test_the_aspect_ratio_is_kept():
    digit = mnist_like(rasterize_strokes([[(140, 40), (140, 240)]], line_width=20))  # a tall bar, 220 x 20
    top, bottom, left, right = ink_box(digit)
    assert bottom - top + 1 == 20 and right - left + 1 == 2                 # 20 * 20/220 = 1.8 -> 2 pixels


def upsample(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` stretched by a non-integer ``factor`` with bilinear interpolation, as ink 0..1."""
    size = int(round(28 * factor))
    coords = (np.arange(size) + 0.5) / factor - 0.5
    low = np.clip(np.floor(coords).astype(int), 0, 27)
    high = np.clip(low + 1, 0, 27)
    weight = np.clip(coords - low, 0, 1)
    rows = image[low] * (1 - weight)[:, None] + image[high] * weight[:, None]
    return (rows[:, low] * (1 - weight) + rows[:, high] * weight) / 255


def test_reprocessing_real_mnist_digits_changes_them_little(subset):
    """An MNIST digit drawn large and processed again is itself (blown up 10 times, each pixel a 10x10
    square) or close to itself (stretched 7.3 times and smoothed, which widens the strokes a little)."""
    images = subset[0][:200]
    blown_up = np.array([mnist_like(np.kron(image / 255, np.ones((10, 10)))) for image in images])
    assert np.max(np.abs(blown_up - images)) < 1.01                         # within one grey level
    again = np.array([mnist_like(upsample(image.astype(float), 7.3)) for image in images])
    correlation = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(again, images)]
    assert np.median(correlation) > 0.9 and min(correlation) > 0.6, (np.median(correlation), min(correlation))
    shift = np.array([centre_of_mass(a) for a in again]) - np.array([centre_of_mass(b) for b in images])
    assert np.max(np.abs(shift)) <= 1                                       # both centred to within half a pixel
    deep = shipped_networks()["deep"]
    same = np.mean(deep.predict_proba(again).argmax(1) == deep.predict_proba(images).argmax(1))
    assert same >= 0.97, same


def test_nothing_drawn_is_a_clear_error():
    with pytest.raises(ValueError, match="nothing is drawn"):
        mnist_like(np.zeros((280, 280)))
    with pytest.raises(ValueError, match=">= 0"):
        mnist_like(-np.ones((5, 5)))
    with pytest.raises(ValueError, match="stroke 0"):
        rasterize_strokes([[]])


# --- what the networks read -------------------------------------------------------------------------------

def test_read_digit_agrees_with_the_shipped_networks(subset):
    image = subset[2][0]
    reading = read_digit(image)
    for name, model in shipped_networks().items():
        assert np.allclose(reading.probabilities[name], model.predict_proba(image[None])[0], atol=1e-6)
    assert reading.prediction("tutorial") == reading.prediction("deep") == subset[3][0]
    assert reading.feature_maps.shape == (26, 26, 8) and reading.saliency.shape == (28, 28)


def test_saliency_is_the_gradient_of_the_predicted_digits_loss(subset):
    """Tie-free pixels (where the loss is smooth) against central differences."""
    from cnn_lib.interactive.digit import tutorial_loop_network
    from cnn_lib.digits import preprocess

    images = subset[2][:50]
    confidence = shipped_networks()["tutorial"].predict_proba(images).max(axis=1)
    image = images[np.argmin(confidence)]                                   # a digit it hesitates on
    reading = read_digit(image)
    net, label = tutorial_loop_network(), reading.prediction()
    x = preprocess(image)

    def loss_of(x_):
        return -np.log(net.softmax.forward(net.pool.forward(net.conv.forward(x_)))[label])

    on_stroke = np.argwhere(image > 128)                                    # pixels on the stroke...
    largest = np.argsort(-np.abs(reading.saliency[tuple(on_stroke.T)]))[:6]  # ...where the map is largest
    stroke = [tuple(int(k) for k in on_stroke[i]) for i in largest]
    numeric = numerical_gradient(loss_of, x.copy(), h=1e-5, indices=stroke)
    rows, cols = zip(*stroke)
    assert rel_error(reading.saliency[rows, cols], numeric[rows, cols]) < 1e-4


# --- windows --------------------------------------------------------------------------------------------

def test_conv_window_is_what_the_forward_pass_multiplies():
    rng = np.random.default_rng(0)
    conv = Conv3x3(1, rng)
    x = rng.standard_normal((7, 7))
    out = conv.forward(x)
    for i, j in ((0, 0), (2, 3), (4, 4)):
        window = conv_forward_window(i, j, out.shape[:2])
        assert np.isclose(sum(x[p.row, p.col] * conv.filters[0, p.a, p.b] for p in window), out[i, j, 0])


def test_backward_stamp_is_conv_backward_of_a_single_one():
    rng = np.random.default_rng(1)
    conv = Conv3x3(1, rng)
    conv.forward(np.zeros((7, 7)))
    for i, j in ((0, 0), (1, 2), (4, 4)):
        one_hot = np.zeros((5, 5, 1))
        one_hot[i, j, 0] = 1
        assert np.array_equal(conv_backward_stamp(i, j, conv.filters[0], (7, 7)), conv.backward(one_hot))


def test_gather_window_reads_the_stamp_through_the_rotated_filter():
    """Every pixel's gradient, gathered through the 180-degree rotated filter, is the stamp's value."""
    filter_ = np.arange(1.0, 10.0).reshape(3, 3)
    rotated = np.rot90(filter_, 2)
    for i, j in ((0, 0), (1, 2), (4, 4)):
        stamp = conv_backward_stamp(i, j, filter_, (7, 7))
        d_L_d_out = np.zeros((5, 5))
        d_L_d_out[i, j] = 1
        for m in range(7):
            for n in range(7):
                gathered = sum(d_L_d_out[p.row, p.col] * rotated[p.a, p.b] for p in conv_gather_window(m, n, (5, 5)))
                assert gathered == stamp[m, n]
    assert len(conv_gather_window(0, 0, (5, 5))) == 1 and len(conv_gather_window(3, 3, (5, 5))) == 9


@pytest.mark.parametrize("ties", ["first", "all"])
def test_pool_routing_is_maxpool_backward(ties, subset):
    from cnn_lib import TutorialCNN, preprocess

    conv_map = TutorialCNN(np.random.default_rng(0)).conv.forward(preprocess(subset[0][0]))[:, :, 5]
    tied_seen = untied_seen = 0
    for I, J in ((0, 0), (3, 7), (6, 6), (12, 12), (5, 9)):
        routing = pool_routing(conv_map, I, J, ties)
        layer = MaxPool2(ties=ties)
        layer.forward(conv_map[:, :, None])
        one_hot = np.zeros((13, 13, 1))
        one_hot[I, J, 0] = 1
        expected = layer.backward(one_hot)[2 * I:2 * I + 2, 2 * J:2 * J + 2, 0]
        assert np.array_equal(routing.receives, expected)
        tied_seen += routing.tied
        untied_seen += not routing.tied
        assert routing.receives.sum() == (routing.is_max.sum() if ties == "all" else 1)
    assert tied_seen and untied_seen                                        # both kinds of window were tried
    assert "4-way tie" in pool_routing(conv_map, 0, 0, ties).describe()


def test_windows_refuse_positions_off_the_map():
    with pytest.raises(ValueError, match="i must be a whole number from 0 to 25"):
        conv_forward_window(26, 0)
    with pytest.raises(ValueError, match="ties"):
        pool_routing(np.zeros((26, 26)), 0, 0, "middle")
    with pytest.raises(ValueError, match="J must be"):
        pool_routing(np.zeros((26, 26)), 0, 13)


# --- the step h of a gradient check ----------------------------------------------------------------------

def test_gradient_check_error_at_h_is_notebook_02s_curve(subset):
    image, label = subset[0][0], int(subset[1][0])
    check = BiasGradientCheck(image, label)
    p = check.net.softmax.forward(check.pooled)
    assert np.allclose(check.analytic, p - np.eye(10)[label])                # d_L_d_b = p - y
    # the notebook's way: numerical_gradient over the biases, rel_error against p - y
    for h in (1e-7, 1e-4, 1e-2):
        numeric = numerical_gradient(lambda _: -np.log(check.net.softmax.forward(check.pooled)[label]),
                                     check.net.softmax.biases, h)
        assert check.error_at(h) == rel_error(check.analytic, numeric)
    # the V: both ends far above the default h
    assert check.error_at(1e-10) > 100 * check.error_at(1e-4) < check.error_at(1e-1) / 100
    with pytest.raises(ValueError, match="h must be"):
        check.error_at(0)


# --- the training stepper -------------------------------------------------------------------------------

def test_stepper_takes_the_tutorials_steps(subset):
    images, labels = subset[0][:300], subset[1][:300]
    stepper = TrainingStepper(images, labels, seed=3)
    initial = stepper.filters
    for _ in range(4):                                                      # crosses into epoch 2
        stepper.step()
    net, history = train_tutorial(images, labels, num_epochs=2, seed=3, log=None, fast=True)
    assert stepper.curve_step == history.window_step[:4]
    assert np.allclose(stepper.curve_loss, history.window_loss[:4])
    assert np.allclose(stepper.curve_accuracy, history.window_accuracy[:4])
    assert np.array_equal(initial, stepper.initial_filters) and not np.array_equal(initial, stepper.filters)
    assert stepper.epoch == 2
    for _ in range(2):
        stepper.step()
    assert np.allclose(stepper.filters, net.conv.filters)                   # after 2 full epochs: the same net


def test_stepper_wants_whole_blocks(subset):
    with pytest.raises(ValueError, match="multiple of 100"):
        TrainingStepper(subset[0][:150], subset[1][:150])


# --- pictures -------------------------------------------------------------------------------------------

def test_svg_pictures_say_what_they_show():
    picture = image_svg(np.eye(5), boxes=[(1, 2, 3, 3, "red")], numbers=np.full((5, 5), "x"), name="demo")
    assert 'data-box="1,2,3,3"' in picture and picture.count(">x<") == 25 and "data:image/png;base64," in picture
    plot = curve_svg({"loss": ([1, 2, 3], [3.0, 2.0, 1.5])}, point=(2, 2.0), name="curve")
    assert 'data-points="3"' in plot and 'data-x="2"' in plot


# --- the widgets (thin: their views are the functions above) ---------------------------------------------

def test_the_widgets_show_what_the_functions_compute(subset):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("ipycanvas")
    from cnn_lib import TutorialCNN, preprocess
    from cnn_lib.interactive import widgets

    view = widgets.draw_digit()
    assert "draw-a-digit widget" in view._repr_mimebundle_()["text/plain"]
    canvas = view.box.children[0].children[0]
    stroke = [(100, 60), (170, 60), (140, 150), (130, 220)]
    canvas._handle_frontend_event(None, {"event": "mouse_down", "x": stroke[0][0], "y": stroke[0][1]}, [])
    for x, y in stroke[1:]:
        canvas._handle_frontend_event(None, {"event": "mouse_move", "x": x, "y": y}, [])
    canvas._handle_frontend_event(None, {"event": "mouse_up", "x": stroke[-1][0], "y": stroke[-1][1]}, [])
    expected = read_digit(mnist_like(rasterize_strokes([stroke])))
    assert np.array_equal(view.state["reading"].probabilities["deep"], expected.probabilities["deep"])
    html = view.box.children[0].children[1].value
    assert f'data-network="deep" data-prediction="{expected.prediction("deep")}"' in html
    view.box.children[1].click()                                            # clear
    assert view.state == {"strokes": []} and 'data-prediction="none"' in view.box.children[0].children[1].value

    conv = widgets.conv_window_explorer()
    i, j, k = conv.box.children[0].children
    i.value, j.value, k.value = 1, 2, 9
    assert conv.state["output"] == (1, 2) and conv.state["pixel"] == (3, 4)
    assert 'data-received="9"' in conv.box.children[1].value                # the last weight, via the rotated filter

    maps = TutorialCNN(np.random.default_rng(0)).conv.forward(preprocess(subset[0][0]))
    pool = widgets.pool_routing_explorer(maps)
    pool.box.children[1].value = "all"
    assert pool.state["routing"].receives.sum() == 4                        # window (0, 0): a 4-way tie

    check = BiasGradientCheck(subset[0][0], int(subset[1][0]))
    h_view = widgets.step_size_explorer(check, hs=np.logspace(-10, -1, 10))
    h_view.box.children[0].value = 1e-2
    assert h_view.state["error"] == check.error_at(1e-2)

    stepper = TrainingStepper(subset[0][:200], subset[1][:200])
    train = widgets.training_stepper(stepper)
    train.box.children[0].children[1].click()
    train.box.children[0].children[0].value = 1                             # a tick of play
    assert train.state["steps"] == 200 and 'data-points="3"' in train.box.children[1].value


def test_the_static_figure_beside_the_drawing_widget():
    import matplotlib.pyplot as plt

    from cnn_lib.interactive.figures import EXAMPLE_STROKES, plot_digit_reading

    ink = rasterize_strokes(EXAMPLE_STROKES)
    reading = read_digit(mnist_like(ink))
    assert reading.prediction("tutorial") == reading.prediction("deep") == 4   # the example is a 4, read as one
    fig = plot_digit_reading(ink, reading)
    assert len(fig.axes) == 12
    plt.close(fig)


def test_the_drawing_widget_can_start_with_a_drawing():
    pytest.importorskip("ipycanvas")
    from cnn_lib.interactive.figures import EXAMPLE_STROKES
    from cnn_lib.interactive.widgets import draw_digit

    view = draw_digit(EXAMPLE_STROKES)
    assert view.state["strokes"] == [[tuple(map(float, p)) for p in s] for s in EXAMPLE_STROKES]
    assert np.array_equal(view.state["digit"], mnist_like(rasterize_strokes(EXAMPLE_STROKES)))


def test_the_widgets_refuse_bad_input_clearly():
    pytest.importorskip("ipywidgets")
    from cnn_lib.interactive import widgets

    with pytest.raises(ValueError, match=r"conv_maps must have 3 dimensions \(h, w, channels\)"):
        widgets.pool_routing_explorer(np.zeros((26, 26)))
    with pytest.raises(ValueError, match="channel must be a whole number from 0 to 7"):
        widgets.pool_routing_explorer(np.zeros((26, 26, 8)), channel=8)
    with pytest.raises(ValueError, match="i must be a whole number from 0 to 4"):
        widgets.conv_window_explorer(i=5)
