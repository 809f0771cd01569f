# SPDX-License-Identifier: Apache-2.0
# Proves the heat simulation's halo exchange and checksum do not depend on the rank count nor on
# the NUMA split: strata_heat on 1, 2, 3 and 4 ranks (an odd grid, so ranks get unequal rows), and
# on 2 ranks of a synthetic 2- and 4-node topology (rows split over the nodes' arenas), prints one
# checksum.
import heat_driver as hd

args = hd.parse_args()
hd.fresh_dir(args.work)
grid = ["--nx", 97, "--ny", 61, "--steps", 150, "--alpha", 0.21]
sums = {}
for ranks in (1, 2, 3, 4):
    r = hd.run(args, ranks, grid + ["--ckpt-dir", f"{args.work}/ckpt-{ranks}", "--every-steps", 0])
    hd.check(r.code == 0 and r.checksum(), f"strata_heat on {ranks} ranks failed", r)
    hd.check(r.fact(rf"steps 150 ranks {ranks}") is not None, "no 'steps N ranks R' line", r)
    sums[ranks] = r.checksum()
    print(f"{ranks} rank(s): {sums[ranks]}")
for nodes in (2, 4):
    r = hd.run(args, 2, grid + ["--ckpt-dir", f"{args.work}/ckpt-numa{nodes}", "--every-steps", 0],
               extra_env={"HWLOC_SYNTHETIC": f"pack:{nodes} numa:1 core:1 pu:1", "STRATA_LOG": "warn"})
    hd.check(r.code == 0 and r.checksum(), f"strata_heat on {nodes} synthetic nodes failed", r)
    hd.check("synthetic" in r.err, "the ranks did not run on the synthetic topology", r)
    sums[f"2 ranks x {nodes} nodes"] = r.checksum()
    print(f"2 ranks on {nodes} synthetic NUMA nodes: {r.checksum()}")
hd.check(len(set(sums.values())) == 1, f"checksums differ: {sums}")
# A different step count must change the field, or the checksum proves nothing.
r = hd.run(args, 2, ["--nx", 97, "--ny", 61, "--steps", 149, "--alpha", 0.21, "--ckpt-dir",
                     f"{args.work}/ckpt-149", "--every-steps", 0])
hd.check(r.checksum() and r.checksum() != sums[1], "the checksum does not follow the field", r)
print("PASS")
