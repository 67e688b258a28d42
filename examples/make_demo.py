"""Build the bundled demo VCF from the knowledge base's definitions (run once; output committed).

Two patients on a small panel (CYP2C19, CYP2C9, TPMT, NUDT15, DPYD, SLCO1B1, UGT1A1, VKORC1,
CYP3A5): every definition position of those genes is written, so nothing is missing for them;
other genes are absent and show up as not tested. Usage: python examples/make_demo.py
"""

from __future__ import annotations

from pathlib import Path

from pgxguard import load_knowledge_base
from pgxguard.kb.model import IUPAC, GeneDefinition

PANEL = ["CYP2C19", "CYP2C9", "CYP3A5", "DPYD", "NUDT15", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"]
# Per patient and gene: (strand 1 allele, strand 2 allele, phased?)
PATIENTS: dict[str, dict[str, tuple[str, str, bool]]] = {
    "PATIENT1": {
        "CYP2C19": ("*2", "*17", False), "CYP2C9": ("*1", "*3", False),
        "TPMT": ("*1", "*3A", False), "UGT1A1": ("*1", "*28", False),
        "DPYD": ("Reference", "c.1905+1G>A (*2A)", False),
        "VKORC1": ("rs9923231 reference (C)", "rs9923231 variant (T)", False),
        "SLCO1B1": ("*1", "*5", False),
    },
    "PATIENT2": {
        "CYP2C19": ("*2", "*2", False), "CYP2C9": ("*2", "*3", True),
        "DPYD": ("c.2846A>T", "c.1129-5923C>G, c.1236G>A (HapB3)", False),
        "CYP3A5": ("*3", "*3", False),
        "VKORC1": ("rs9923231 variant (T)", "rs9923231 variant (T)", False),
    },
}
CONTIGS = {"1": 248956422, "2": 242193529, "6": 170805979, "7": 159345973, "10": 133797422,
           "12": 133275309, "13": 114364328, "16": 90338345}


def base_at(d: GeneDefinition, name: str, i: int) -> str:
    """The sequence a carrier of allele `name` has at position i: its own cell, else the
    reference allele's; an IUPAC cell (either base) is written as the reference base when it
    allows it (the common sub-allele), else as its first base."""
    cell = d.allele(name).cells[i] or d.alleles[0].cells[i]
    assert cell is not None
    if len(cell) == 1 and cell not in "ACGT":
        bases = sorted(IUPAC[cell])
        return d.positions[i].ref if d.positions[i].ref in bases else bases[0]
    return cell


def main() -> None:
    kb = load_knowledge_base()
    records = []
    for gene in PANEL:
        d = kb.definition(gene, "GRCh38")
        for i, p in enumerate(d.positions):
            alts = list(p.alts)
            gts = []
            for sample in PATIENTS:
                a, b, phased = PATIENTS[sample].get(gene, (d.reference_allele,) * 2 + (False,))
                idx = []
                for name in (a, b):
                    seq = base_at(d, name, i)
                    if seq != p.ref and seq not in alts:
                        alts.append(seq)
                    idx.append(0 if seq == p.ref else alts.index(seq) + 1)
                sep = "|" if phased else "/"
                if not phased:
                    idx.sort()
                gts.append(sep.join(map(str, idx)))
            records.append((p.chrom, p.pos, p.rsid or ".", p.ref, ",".join(alts), gts))
    records.sort(key=lambda r: (int(r[0]), r[1]))
    lines = ["##fileformat=VCFv4.2", "##reference=GRCh38",
             "##source=pgxguard examples/make_demo.py (synthetic patients)"]
    lines += [f"##contig=<ID=chr{c},length={n}>" for c, n in CONTIGS.items()]
    lines += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(PATIENTS)]
    for chrom, pos, rsid, ref, alt, gts in records:
        lines.append(f"chr{chrom}\t{pos}\t{rsid}\t{ref}\t{alt}\t.\tPASS\t.\tGT\t" + "\t".join(gts))
    out = Path(__file__).parent / "demo.vcf"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({len(records)} records)")


if __name__ == "__main__":
    main()
