"""The filter parser's bounds: nesting depth, integer columns and literals a store can hold."""

import pytest

from models.store.run_filter import MAX_DEPTH, FilterError, parse_filter


def test_nesting_up_to_the_bound_parses_and_beyond_it_is_an_error() -> None:
    parse_filter("(" * MAX_DEPTH + "id = 1" + ")" * MAX_DEPTH)
    parse_filter("not " * MAX_DEPTH + "id = 1")
    with pytest.raises(FilterError, match="nested deeper") as caught:
        parse_filter("(" * 330 + "id = 1" + ")" * 330)  # a RecursionError before the bound
    assert caught.value.position == MAX_DEPTH


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("id = 2147483648", 5),
        ("seed in (0, -2147483649)", 12),
        ("epochs_done >= 2.5", 15),
        ("summary.test_acc < -1e400", 19),
        ("spec.optimizer.lr = 1" + "0" * 400, 20),
        ("backend = 'a\x00'", 10),
    ],
)
def test_values_no_store_can_compare_are_errors_with_position(text: str, position: int) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert caught.value.position == position


def test_integers_in_range_keep_their_exact_value() -> None:
    node = parse_filter("id = 2147483647 or spec.seed = 9007199254740993")
    assert [c.value for c in node.operands] == [2147483647, 9007199254740993]  # type: ignore[union-attr]
