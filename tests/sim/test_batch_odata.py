"""The Batch ``$filter`` subset: the builder the driver uses and the parser the simulator uses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.providers.batch import odata
from workbench.providers.batch.odata import (
    And,
    Comparison,
    FilterSyntaxError,
    Operator,
    Or,
    Property,
    compile_filter,
    node_agent_sku_id,
    offer,
    os_type,
    parse_filter,
    publisher,
    render,
    sku,
    verification_type,
)

# -- building and rendering ---------------------------------------------------------


def test_a_comparison_renders_property_operator_and_quoted_literal():
    assert str(os_type.eq("linux")) == "osType eq 'linux'"
    assert str(verification_type.ne("unverified")) == "verificationType ne 'unverified'"
    assert str(node_agent_sku_id.eq("batch.node.ubuntu 22.04")) == "nodeAgentSKUId eq 'batch.node.ubuntu 22.04'"
    assert str(publisher.eq("Canonical")) == "imageReference/publisher eq 'Canonical'"
    assert str(offer.ne("WindowsServer")) == "imageReference/offer ne 'WindowsServer'"
    assert str(sku.eq("22_04-lts")) == "imageReference/sku eq '22_04-lts'"


def test_quotes_inside_a_literal_are_doubled():
    assert str(publisher.eq("O'Brien's")) == "imageReference/publisher eq 'O''Brien''s'"
    assert str(sku.eq("'")) == "imageReference/sku eq ''''"
    assert str(sku.eq("")) == "imageReference/sku eq ''"


def test_and_binds_tighter_so_only_an_or_inside_an_and_gets_parentheses():
    linux, canonical, debian = os_type.eq("linux"), publisher.eq("Canonical"), publisher.eq("Debian")
    assert str(linux & (canonical | debian)) == (
        "osType eq 'linux' and (imageReference/publisher eq 'Canonical' or imageReference/publisher eq 'Debian')"
    )
    assert str((linux & canonical) | debian) == (
        "osType eq 'linux' and imageReference/publisher eq 'Canonical' or imageReference/publisher eq 'Debian'"
    )
    assert str(odata.any_of(linux, canonical, debian)) == (
        "osType eq 'linux' or imageReference/publisher eq 'Canonical' or imageReference/publisher eq 'Debian'"
    )


def test_nested_ands_and_ors_flatten_to_one_canonical_tree():
    a, b, c = os_type.eq("linux"), sku.eq("1"), sku.eq("2")
    assert (a & (b & c)) == ((a & b) & c) == odata.all_of(a, b, c) == And((a, b, c))
    assert (a | (b | c)).operands == (a, b, c)
    assert odata.all_of(a) is a


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: os_type.eq("solaris"), "osType must be 'linux' or 'windows'"),
        (lambda: verification_type.eq("Verified"), "verificationType must be 'verified' or 'unverified'"),
        (lambda: odata.field("imageReference/version"), "property: must be one of osType"),
        (lambda: Comparison("osType", "gt", "linux"), "op: must be 'eq' or 'ne'"),
        (lambda: And((os_type.eq("linux"),)), "needs at least two operands"),
    ],
)
def test_the_builder_rejects_what_the_service_would_not_understand(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_builder_rejects_non_string_values():
    with pytest.raises(TypeError, match="compares with a string"):
        sku.eq(2204)  # type: ignore[arg-type]


# -- parsing ------------------------------------------------------------------------


def test_parse_gives_the_tree_with_and_binding_tighter_than_or():
    tree = parse_filter("osType eq 'linux' or imageReference/publisher eq 'Canonical' and imageReference/sku ne '7.1'")
    assert tree == Or((
        Comparison(Property.OS_TYPE, Operator.EQ, "linux"),
        And((
            Comparison(Property.PUBLISHER, Operator.EQ, "Canonical"),
            Comparison(Property.SKU, Operator.NE, "7.1"),
        )),
    ))


def test_parse_honours_parentheses_whitespace_and_doubled_quotes():
    tree = parse_filter("  ( ( osType eq 'linux' or osType eq 'windows' ) )and\timageReference/offer eq 'It''s'  ")
    assert tree == And((
        Or((os_type.eq("linux"), os_type.eq("windows"))),
        offer.eq("It's"),
    ))


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("", 0, "a property name"),
        ("osType eq linux", 10, "a string literal in single quotes"),
        ("osType gt 'linux'", 7, "'eq' or 'ne'"),
        ("ostype eq 'linux'", 0, "a property name"),
        ("imageReference/version eq 'latest'", 0, "a property name"),
        ("osType eq 'solaris'", 10, "'linux' or 'windows' for osType"),
        ("osType eq 'linux' and", 21, "a property name"),
        ("osType eq 'linux' nand sku eq '1'", 18, "'and', 'or' or end of filter"),
        ("(osType eq 'linux'", 18, "'and', 'or' or ')'"),
        ("osType eq 'linux')", 17, "'and', 'or' or end of filter"),
        ("osType eq 'lin", 10, "a closing quote"),
        ("imageReference/sku eq 7.1", 22, "a string literal"),
        ("not osType eq 'linux'", 0, "a property name"),
        ("startswith(imageReference/sku, '20')", 0, "a property name"),
    ],
)
def test_parse_errors_name_the_position_and_what_was_expected(text, position, expected):
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    error = caught.value
    assert error.position == position
    assert expected in error.expected
    assert f"at position {position}: expected" in str(error)


# -- evaluating ---------------------------------------------------------------------

UBUNTU = {
    "nodeAgentSKUId": "batch.node.ubuntu 22.04",
    "imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts"},
    "osType": "linux",
    "verificationType": "verified",
}
WINDOWS = {
    "nodeAgentSKUId": "batch.node.windows amd64",
    "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter"},
    "osType": "windows",
    "verificationType": "unverified",
}
GALLERY = {  # a gallery image has no publisher/offer/sku
    "nodeAgentSKUId": "batch.node.ubuntu 22.04",
    "imageReference": {"virtualMachineImageId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/"
                                                "galleries/x/images/y"},
    "osType": "linux",
    "verificationType": "verified",
}


@pytest.mark.parametrize(
    ("text", "matching"),
    [
        ("osType eq 'linux'", ["ubuntu", "gallery"]),
        ("osType ne 'linux'", ["windows"]),
        ("imageReference/publisher eq 'Canonical'", ["ubuntu"]),
        # null is "not equal" to any string, as OData says
        ("imageReference/publisher ne 'Canonical'", ["windows", "gallery"]),
        ("verificationType eq 'verified' and imageReference/sku ne '22_04-lts'", ["gallery"]),
        ("osType eq 'windows' or nodeAgentSKUId eq 'batch.node.ubuntu 22.04' and verificationType eq 'unverified'",
         ["windows"]),
        ("(osType eq 'windows' or nodeAgentSKUId eq 'batch.node.ubuntu 22.04') and verificationType eq 'verified'",
         ["ubuntu", "gallery"]),
    ],
)
def test_compiled_filters_select_the_right_images(text, matching):
    images = {"ubuntu": UBUNTU, "windows": WINDOWS, "gallery": GALLERY}
    predicate = compile_filter(parse_filter(text))
    assert [name for name, image in images.items() if predicate(image)] == matching
    assert all(odata.matches(parse_filter(text), images[name]) for name in matching)


# -- properties: build -> render -> parse ---------------------------------------------

_STRING_VALUES = st.one_of(
    st.sampled_from(["Canonical", "WindowsServer", "22_04-lts", "batch.node.ubuntu 22.04", "O'Brien", "''", ""]),
    st.text(max_size=12),
)


def _comparisons() -> st.SearchStrategy[Comparison]:
    def for_property(prop: Property) -> st.SearchStrategy[Comparison]:
        values = st.sampled_from(odata.ENUM_VALUES[prop]) if prop in odata.ENUM_VALUES else _STRING_VALUES
        return st.builds(Comparison, st.just(prop), st.sampled_from(list(Operator)), values)

    return st.sampled_from(list(Property)).flatmap(for_property)


expressions = st.recursive(
    _comparisons(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=4).map(lambda xs: odata.all_of(*xs)),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: odata.any_of(*xs)),
    ),
    max_leaves=12,
)

_SMALL = ["Canonical", "WindowsServer", "22_04-lts", "O'Brien", ""]
images = st.fixed_dictionaries(
    {
        "osType": st.sampled_from(["linux", "windows"]),
        "verificationType": st.sampled_from(["verified", "unverified"]),
        "nodeAgentSKUId": st.sampled_from(["batch.node.ubuntu 22.04", "batch.node.windows amd64"]),
        "imageReference": st.fixed_dictionaries(
            {},
            optional={"publisher": st.sampled_from(_SMALL), "offer": st.sampled_from(_SMALL),
                      "sku": st.sampled_from(_SMALL)},
        ),
    }
)


def _reference_eval(expr, image) -> bool:
    """A deliberately plain tree walk to check the compiled closures against."""
    if isinstance(expr, And):
        return all(_reference_eval(o, image) for o in expr.operands)
    if isinstance(expr, Or):
        return any(_reference_eval(o, image) for o in expr.operands)
    path = expr.property.value.split("/")
    actual = image.get(path[0]) if len(path) == 1 else image.get(path[0], {}).get(path[1])
    return (actual == expr.value) if expr.op is Operator.EQ else (actual != expr.value)


@settings(max_examples=300, deadline=None)
@given(expressions)
def test_build_render_parse_round_trips_to_the_same_tree(expr):
    text = render(expr)
    assert parse_filter(text) == expr
    assert render(parse_filter(text)) == text


@settings(max_examples=200, deadline=None)
@given(expressions, st.lists(images, min_size=1, max_size=8))
def test_build_and_parsed_filters_evaluate_the_same(expr, sample):
    built = compile_filter(expr)
    parsed = compile_filter(parse_filter(render(expr)))
    for image in sample:
        assert built(image) == parsed(image) == _reference_eval(expr, image)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("()' aeqnordsTyp/kuO")), max_size=40))
def test_any_text_either_parses_to_a_canonical_tree_or_fails_with_a_position(text):
    try:
        tree = parse_filter(text)
    except FilterSyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert error.expected
    else:
        assert parse_filter(render(tree)) == tree
