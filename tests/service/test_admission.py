"""The admission policy (`engine.service.admission`), pure: who joins the running decode next, and when.

Times are in seconds on a made-up machine: encode 1 s per megapixel, prefill 1 ms per prompt token, a decode
step 50 ms. A page: one 1024 px view (1.05 MP), 273 prompt tokens, 600 tokens to decode (alone ~31 s); a
paragraph: 100 tokens (alone ~6.3 s); a line: 16 tokens (alone ~2.1 s: its decode, 0.8 s, is shorter than its
admission, 1.3 s, so it runs alone ahead of the batch)."""

from types import SimpleNamespace as NS

import pytest

from engine.service.admission import (GROUP_DELAY, TOKENS_PER_IMAGE_TOKEN, Estimates, choose, expected_tokens,
                                      express, is_short, view_megapixels)

MP = 1024 * 1024 / 1e6


def est() -> Estimates:
    e = Estimates()
    e.saw_encode(1.0, 1.0)
    e.saw_prefill(0.1, 100)
    e.saw_step(0.05)
    return e


def page(queued_at: float, tokens: int = 600):
    return NS(queued_at=queued_at, megapixels=MP, prompt_tokens=273, expected_tokens=tokens, name=f"page@{queued_at}")


def paragraph(queued_at: float):
    return NS(queued_at=queued_at, megapixels=MP, prompt_tokens=273, expected_tokens=100, name=f"para@{queued_at}")


def line(queued_at: float):
    return NS(queued_at=queued_at, megapixels=MP, prompt_tokens=273, expected_tokens=16, name=f"line@{queued_at}")


def decoding(alone_s: float, stalled_s: float = 0.0):
    return NS(alone_s=alone_s, stalled_s=stalled_s)


def test_expected_tokens_is_the_budget_at_most_what_the_image_holds():
    assert expected_tokens(16, 273) == 16
    assert expected_tokens(8192, 273) == TOKENS_PER_IMAGE_TOKEN * 273
    assert expected_tokens(8192, 0) == TOKENS_PER_IMAGE_TOKEN  # never zero


def test_view_megapixels_counts_tiles_and_the_global_view():
    import engine

    tiled = engine.plan((2000, 3000), "v1", "gundam")
    assert view_megapixels(tiled) == pytest.approx((len(tiled.tiles) * 640 ** 2 + 1024 ** 2) / 1e6)
    assert view_megapixels(engine.plan((600, 40), "v1", "tiny")) == pytest.approx(512 ** 2 / 1e6)


def test_nothing_measured_yet_admits_the_first_request_alone_to_measure_it():
    queue = [page(0.0), line(1.0), page(2.0)]
    assert choose(queue, [], 2, Estimates(), now=5.0) == queue[:1]
    assert choose(queue, [decoding(1.0)], 2, Estimates(), now=5.0) == []  # until its steps are measured
    assert express(queue, Estimates(), now=5.0, most=4) == []  # nothing is short before anything is measured
    assert choose(queue, [], 0, est(), now=5.0) == []
    assert choose([], [decoding(10.0)], 3, est(), now=5.0) == []


def test_a_service_that_has_only_decoded_batches_tries_a_short_request_alone():
    e = Estimates()
    e.saw_encode(1.0, 1.0)
    e.saw_prefill(0.1, 100)
    e.saw_step(0.8, 16)  # 50 ms per sequence: a line looks short
    assert is_short(line(0.0), e)
    e.saw_step(0.2)  # its run alone measured one sequence's step: 16 x 0.2 s is longer than its admission
    assert not is_short(line(0.0), e)


def test_a_line_runs_alone_ahead_of_the_batch_and_never_joins_it():
    e = est()
    queue = [page(0.0), line(1.0), paragraph(1.5), line(2.0)]
    assert [is_short(r, e) for r in queue] == [False, True, False, True]
    assert [r.name for r in express(queue, e, now=3.0, most=4)] == ["line@1.0", "line@2.0"]  # most slowed first
    assert [r.name for r in express(queue, e, now=3.0, most=1)] == ["line@1.0"]
    assert all(not is_short(r, e) for r in choose(queue, [], 4, e, now=3.0))
    assert express([page(0.0), paragraph(1.0)], e, now=3.0, most=4) == []


def test_a_shorter_request_overtakes_long_ones_that_came_a_little_earlier():
    e = est()
    queue = [page(0.0), page(0.5), paragraph(1.0)]
    group = choose(queue, [], 1, e, now=2.0)
    assert [r.name for r in group] == ["para@1.0"]  # waited 1 s of its ~6 s alone, the pages 2 s of ~31 s


def test_a_long_request_that_waited_long_enough_goes_first_no_starvation():
    e = est()
    old_page = page(0.0)
    # a page waiting 40 s (more than its time alone) beats a paragraph that has just arrived
    assert choose([old_page, paragraph(39.9)], [], 1, e, now=40.0) == [old_page]


def test_nothing_joins_while_a_shorter_request_would_lose_more_than_the_queue_has():
    e = est()
    short = decoding(alone_s=e.alone_s(paragraph(0.0)))  # a paragraph decoding now
    fresh = page(9.0)
    # admitting the page holds the paragraph up ~1.3 s (21% of its time alone); the page has waited 1 s of ~31 s
    assert choose([fresh], [short], 3, e, now=10.0) == []
    # once the page has waited as long, relative to its size, it goes in
    assert choose([fresh], [short], 3, e, now=9.0 + 0.25 * e.alone_s(fresh)) == [fresh]
    # requests of the newcomer's size or longer are not held back for: among equals it goes in at once, however
    # much the batch has been held up already (holding it back would only leave its slot empty)
    batch, p = [decoding(e.alone_s(fresh), stalled_s=20.0), decoding(e.alone_s(fresh))], page(10.0)
    assert choose([p], batch, 3, e, now=10.0) == [p]
    q = paragraph(10.0)
    assert choose([q], batch, 3, e, now=10.0) == [q]


def test_a_shorter_request_is_held_up_once_not_again_and_again():
    e = est()
    p = page(0.0)
    para_alone = e.alone_s(paragraph(0.0))
    once = decoding(para_alone, stalled_s=e.admission_s(p))  # one page admitted during its decode already
    wait_for_one = e.alone_s(p) * 2 * e.admission_s(p) / para_alone  # the second one needs twice the wait
    assert choose([p], [once], 3, e, now=0.9 * wait_for_one) == []
    assert choose([p], [once], 3, e, now=1.1 * wait_for_one) == [p]


def test_pages_are_encoded_together_but_a_shorter_head_waits_for_few_of_them():
    e = est()
    pages = [page(0.0), page(0.1), page(0.2), page(0.3)]
    assert len(choose(pages, [], 4, e, now=1.0)) == 4  # each extra encode: ~1.3 s of a page's ~31 s alone
    head = paragraph(0.5)
    group = choose([head] + pages, [], 5, e, now=1.0)
    assert group[0] is head
    # the pages added delay the paragraph's first token by at most GROUP_DELAY of its time alone
    assert len(group) - 1 == int(GROUP_DELAY * e.alone_s(head) // e.admission_s(pages[0])) == 2


def test_a_group_is_bounded_by_the_free_slots():
    e = est()
    pages = [page(0.1 * k) for k in range(6)]
    assert len(choose(pages, [], 3, e, now=1.0)) == 3


def test_the_running_means_follow_the_machine():
    e = Estimates()
    assert not e.known
    e.saw_encode(2.0, 1.0)
    e.saw_encode(1.0, 1.0)
    assert 1.0 < e.encode_s_per_mp < 2.0  # moves towards the newest
    e.saw_prefill(0.3, 300)
    assert not e.known  # no step yet
    e.saw_step(0.16, 16)
    e.saw_step(0.12, 4)
    assert e.known and e.single_step_s == 0.01  # only batches so far: the smallest share per sequence
    e.saw_step(0.08)
    e.saw_step(0.02)
    e.saw_step(0.05)
    assert e.single_step_s == 0.02  # the fastest step of one sequence, once one is seen
    r = page(0.0, tokens=100)
    assert e.alone_s(r) == pytest.approx(e.encode_s_per_mp * MP + 0.001 * 273 + 0.02 * 100)
