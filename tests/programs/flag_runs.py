"""Running a program's `main` in this process with chosen flags."""

from absl import flags


def run_main(monkeypatch, module, **values):
    """`module.main` with `values` as its flags (`--name=value`), on flag
    values of their own (the programs define their flags only when run)."""
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    flag_values(["program"] + [f"--{name}={value}" for name, value in values.items()])
    monkeypatch.setattr(module, "FLAGS", flag_values)
    return module.main([])
