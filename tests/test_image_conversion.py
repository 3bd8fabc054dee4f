"""sensor_msgs/Image <-> numpy conversion (the node's replacement for cv_bridge)."""
import cv2
import numpy as np
import pytest

from smplr_ros.image_conversion import (ImageConversionError, buffer_to_rgb, image_msg_to_rgb,
                                        rgb_to_image_msg)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (6, 10, 3), dtype=np.uint8)


def test_rgb8_round_trips_through_a_message():
    msg = rgb_to_image_msg(RGB)
    assert (msg.encoding, msg.height, msg.width, msg.step) == ("rgb8", 6, 10, 30)
    np.testing.assert_array_equal(image_msg_to_rgb(msg), RGB)


def test_bgr8_is_swapped_to_rgb():
    bgr = RGB[:, :, ::-1].copy()
    np.testing.assert_array_equal(buffer_to_rgb(bgr.tobytes(), 6, 10, 30, "bgr8"), RGB)


@pytest.mark.parametrize("encoding, order", [("rgba8", [0, 1, 2]), ("bgra8", [2, 1, 0])])
def test_four_channel_encodings_drop_alpha(encoding, order):
    alpha = np.full((6, 10, 1), 77, np.uint8)
    data = np.concatenate([RGB[:, :, order], alpha], axis=2)
    np.testing.assert_array_equal(buffer_to_rgb(data.tobytes(), 6, 10, 40, encoding), RGB)


def test_mono8_is_replicated_to_three_channels():
    grey = RGB[:, :, 0].copy()
    out = buffer_to_rgb(grey.tobytes(), 6, 10, 10, "mono8")
    assert out.shape == (6, 10, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


def test_row_padding_in_step_is_dropped():
    padded = np.zeros((6, 32), np.uint8)
    padded[:, :30] = RGB.reshape(6, 30)
    np.testing.assert_array_equal(buffer_to_rgb(padded.tobytes(), 6, 10, 32, "rgb8"), RGB)


@pytest.mark.parametrize("encoding, order", [("bgr8", [2, 1, 0]), ("rgba8", [0, 1, 2, 0]),
                                             ("bgra8", [2, 1, 0, 0]), ("mono8", [0, 0, 0])])
def test_row_padding_is_dropped_for_converted_encodings(encoding, order):
    channels = 1 if encoding == "mono8" else len(order)
    expected = RGB[:, :, [order[0]] * 3] if encoding == "mono8" else RGB
    data = RGB[:, :, order[:channels]]
    padded = np.zeros((6, 10 * channels + 5), np.uint8)
    padded[:, :10 * channels] = data.reshape(6, -1)
    out = buffer_to_rgb(padded.tobytes(), 6, 10, 10 * channels + 5, encoding)
    assert out.flags.c_contiguous and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("encoding, cv_code", [("yuv422_yuy2", cv2.COLOR_RGB2YUV_YUYV),
                                               ("uyvy", cv2.COLOR_RGB2YUV_UYVY)])
def test_packed_yuv422_decodes_close_to_the_original(encoding, cv_code):
    smooth = np.full((6, 10, 3), (200, 120, 40), np.uint8)
    packed = cv2.cvtColor(smooth, cv_code)
    out = buffer_to_rgb(packed.tobytes(), 6, 10, 20, encoding)
    assert np.abs(out.astype(int) - smooth).max() <= 3


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1", "mono16", "bayer_rggb8"])
def test_depth_and_raw_encodings_are_rejected_with_the_reason(encoding):
    with pytest.raises(ImageConversionError, match=f"'{encoding}' is not a colour image"):
        buffer_to_rgb(b"\0" * 120, 6, 10, 20, encoding)


def test_unknown_encoding_lists_the_supported_ones():
    with pytest.raises(ImageConversionError, match="unsupported image encoding 'jpeg'.*rgb8"):
        buffer_to_rgb(b"\0" * 180, 6, 10, 30, "jpeg")


def test_empty_data_is_rejected():
    with pytest.raises(ImageConversionError, match="empty"):
        buffer_to_rgb(b"", 6, 10, 30, "rgb8")


def test_zero_size_is_rejected():
    with pytest.raises(ImageConversionError, match="empty image: 0x0"):
        buffer_to_rgb(b"", 0, 0, 0, "rgb8")


def test_truncated_data_is_rejected():
    with pytest.raises(ImageConversionError, match="truncated: 100 bytes, expected .* 180"):
        buffer_to_rgb(RGB.tobytes()[:100], 6, 10, 30, "rgb8")


def test_step_smaller_than_a_row_is_rejected():
    with pytest.raises(ImageConversionError, match="step 20 is smaller than"):
        buffer_to_rgb(RGB.tobytes(), 6, 10, 20, "rgb8")


def test_data_longer_than_step_times_height_is_rejected():
    with pytest.raises(ImageConversionError, match="too long"):
        buffer_to_rgb(RGB.tobytes() + b"\0" * 30, 6, 10, 30, "rgb8")


def test_array_to_message_needs_uint8_three_channels():
    with pytest.raises(ImageConversionError, match="uint8"):
        rgb_to_image_msg(RGB.astype(np.float32))
