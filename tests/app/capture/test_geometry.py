"""The pure rectangle maths: --region parsing, drags, screens, logical -> physical pixels."""

import pytest

from dsocr_app.capture import geometry as geo


def test_parse_region():
    assert geo.parse_region("10,20,300,40") == (10, 20, 300, 40)
    assert geo.parse_region(" -1920, 0, 5, 6 ") == (-1920, 0, 5, 6)  # a screen left of the primary one
    for bad, words in (("1,2,3", "four"), ("a,b,c,d", "whole numbers"), ("0,0,0,5", "positive"),
                       ("0,0,5,-5", "positive"), ("1.5,2,3,4", "whole numbers")):
        with pytest.raises(ValueError, match=words):
            geo.parse_region(bad)


def test_drag_rectangle_either_direction_and_click():
    assert geo.rect_from_points((50, 60), (10, 20)) == (10, 20, 40, 40)
    assert geo.rect_from_points((10, 60), (50, 20)) == (10, 20, 40, 40)
    assert geo.is_click((5, 5), (7, 8))
    assert not geo.is_click((5, 5), (5, 9))


def test_pick_screen_and_local_rect():
    screens = [(0, 0, 1440, 900), (1440, 0, 1920, 1080), (-1280, 0, 1280, 1024)]
    assert geo.pick_screen((100, 100, 10, 10), screens) == 0
    assert geo.pick_screen((1400, 100, 200, 10), screens) == 1  # mostly on the second screen
    assert geo.pick_screen((-500, 500, 10, 10), screens) == 2
    assert geo.pick_screen((5000, 5000, 10, 10), screens) is None
    assert geo.to_local((1400, 100, 200, 10), screens[1]) == (0, 100, 160, 10)  # cut to that screen
    assert geo.to_local((-500, 500, 10, 10), screens[2]) == (780, 500, 10, 10)


@pytest.mark.parametrize("ratio", [1.0, 1.25, 1.5, 2.0])
def test_physical_rect_covers_exactly_the_pixels_under_the_selection(ratio):
    size = (round(1440 * ratio), round(900 * ratio))
    assert geo.to_physical((0, 0, 1440, 900), ratio, size) == (0, 0, *size)  # the whole screen
    left = geo.to_physical((0, 0, 333, 100), ratio, size)
    right = geo.to_physical((333, 0, 333, 100), ratio, size)
    assert left[0] + left[2] == right[0]  # neighbours share an edge: no gap, no overlap
    assert geo.to_physical((10, 20, 30, 40), 2.0, (2880, 1800)) == (20, 40, 60, 80)


def test_physical_rect_is_clipped_to_the_screenshot():
    assert geo.to_physical((1400, 880, 100, 100), 2.0, (2880, 1800)) == (2800, 1760, 80, 40)
    assert geo.to_physical((2000, 0, 10, 10), 1.0, (1440, 900)) is None


def test_tile_boxes_map_back_to_the_selection():
    # a tile (image pixels 0..640) of a selection whose physical top-left is (200, 100), on a 2x screen
    assert geo.to_logical((0, 0, 640, 320), 2.0, (200, 100)) == (100, 50, 320, 160)
    assert geo.pixel_ratio((2880, 1800), (1440, 900)) == 2.0


def test_desktop_parts_cut_one_desktop_screenshot_per_screen():
    # two screens side by side, the right one lower; the portal's image at 2x
    parts = geo.desktop_parts((3200, 2000), [(0, 0, 800, 600), (800, 400, 800, 600)])
    assert parts == [(0, 0, 1600, 1200), (1600, 800, 1600, 1200)]
    assert geo.desktop_parts((100, 100), []) == []
    assert geo.desktop_parts((800, 600), [(-800, 0, 800, 600), (0, 0, 800, 600)]) == [(0, 0, 400, 600),
                                                                                     (400, 0, 400, 600)]
