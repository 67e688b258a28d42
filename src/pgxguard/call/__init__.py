"""The call stage: genotypes -> named-allele match -> gene rules -> phenotype (see `pipeline`).

Laid out as PharmCAT's `reporter/caller` split: `pipeline` runs the stage, `rules/` holds one
module per gene rule, `phenotype` is the phenotyper, `results` the saved result model,
`writers` the JSON/TSV output and `options` the one `CallOptions` every entry point takes.

Import from the modules (`from pgxguard.call.pipeline import call`): the attribute
`pgxguard.call` is the `call` function itself, as documented in the README.
"""
