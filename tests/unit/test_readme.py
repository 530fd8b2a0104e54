"""The README's deploy section lists every template parameter, and the quick start is the two commands."""

from __future__ import annotations

from devstack.template import PROJECT_ROOT, load_template

README = (PROJECT_ROOT / "README.md").read_text()


def test_every_template_parameter_is_documented_in_the_deploy_section() -> None:
    deploy = README[README.index("## Deploy") :]
    deploy = deploy[: deploy.index("\n## ", 1)]
    missing = [name for name in load_template().parameters if f"`{name}`" not in deploy]
    assert not missing, f"README's Deploy section does not describe {missing}"


def test_quick_start_is_exactly_the_two_commands() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
