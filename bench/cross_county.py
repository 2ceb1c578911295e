"""Cross-county pairs for the generator (bench/generate.py): one 一卡通 account, or one phone
number, on households of two counties of the same city, planted at a known rate so that the
city's cross-county checks (subsidy/filings/risk.py) have something to find at every size.

In every county but the first of its city, `RATE` of the households per kind (account, phone),
at least one, take the account or phone of a household of an earlier county of the same city
(each such counterpart used once). Three pairs in four are listed under at least one subsidy
type both (same type, same year: what the checks flag where both filings are past draft);
every `DECOY_EVERY`-th pair of a kind is a decoy, listed under no type its counterpart is
listed under (what the checks must not flag). The entries are drawn first as for every
household and then fitted: a match missing a common type gets an entry of one, a decoy loses
its entries of the counterpart's types. Counterparts are drawn from a sample of each earlier
county's households that have entries (the big filing's village included, so that the
5,000-entry filing meets some).

Its own random stream per county: every other table's rows stay as they were without it,
except the planted households' accounts, phones and entries (and the lists those touch)."""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from decimal import Decimal

RATE = 0.002
DECOY_EVERY = 4
SOURCES_PER_COUNTY = 2_000
KINDS = ("account", "phone")
PHONE, ACCOUNT, MEMBERS, LAND = 3, 4, 5, 6  # places in the generator's household tuple


class CrossCounty:
    def __init__(self, seed: int):
        self.seed = seed
        self.sources: dict[str, list[tuple]] = defaultdict(list)  # city -> [(hid, county, account, phone, types)]
        self.pairs: list[dict] = []
        self.made: Counter = Counter()  # pairs planted so far, per kind: every DECOY_EVERY-th is a decoy

    def plant(self, c: dict, hh: dict[int, tuple], skip_village: str) -> list[dict]:
        """Before the households are written: give the chosen ones their counterpart's account or
        phone (in `hh`, in place). Answers the plans, for `fit` once the entries are drawn."""
        pool = self.sources.get(c["city"])
        if not pool:
            return []
        rng = random.Random(f"{self.seed}:cross:{c['code']}")
        uses = Counter(h[ACCOUNT] for h in hh.values())
        # Not a household already sharing its account in the county: its pair stays what it was.
        eligible = [hid for hid, h in hh.items() if h[0] != skip_village and uses[h[ACCOUNT]] == 1]
        n = max(1, round(len(hh) * RATE))
        chosen = rng.sample(eligible, min(len(eligible), 2 * n))
        plans = []
        for i, hid in enumerate(chosen):
            kind = KINDS[i % 2]
            self.made[kind] += 1
            candidates = [k for k in range(len(pool)) if kind == "account" or pool[k][3]]
            if not candidates:
                break
            src_hid, src_county, account, phone, types = pool.pop(rng.choice(candidates))
            h = list(hh[hid])
            if kind == "account":
                h[ACCOUNT] = account
            else:
                h[PHONE] = phone
            hh[hid] = tuple(h)
            plans.append({"kind": kind, "match": self.made[kind] % DECOY_EVERY != 0, "household": hid,
                          "county": c["code"], "other": src_hid, "other_county": src_county, "other_types": types})
        return plans

    def fit(self, plans: list[dict], lists: dict, hh: dict[int, tuple]) -> None:
        """After the entries are drawn (`lists`: (project index, village) -> [[hid, qty, amount]]):
        a match shares a type with its counterpart, a decoy none; each keeps at least one entry."""
        if not plans:
            return
        rng = random.Random(f"{self.seed}:cross-fit:{plans[0]['county']}")
        planted = {p["household"] for p in plans}
        types: dict[int, set[int]] = defaultdict(set)
        for (j, _v), rows in lists.items():
            for r in rows:
                if r[0] in planted:
                    types[r[0]].add(j)
        for p in plans:
            hid, theirs = p["household"], p["other_types"]
            village = hh[hid][0]
            if p["match"] and not types[hid] & theirs:
                j = self._choose(rng, hh[hid], sorted(theirs))
                if j is None:
                    p["match"] = False  # no type of theirs fits this household (no land): a decoy
                else:
                    lists[(j, village)].append(self._entry(rng, j, hid, hh[hid]))
                    types[hid].add(j)
            if not p["match"]:
                for j in sorted(types[hid] & theirs):
                    rows = [r for r in lists[(j, village)] if r[0] != hid]
                    if rows:
                        lists[(j, village)] = rows
                    else:
                        del lists[(j, village)]
                    types[hid].discard(j)
                if not types[hid]:
                    from bench.generate import PROJECTS

                    j = self._choose(rng, hh[hid], [k for k in range(len(PROJECTS)) if k not in theirs])
                    if j is not None:
                        lists[(j, village)].append(self._entry(rng, j, hid, hh[hid]))
                        types[hid].add(j)
            p["types"] = sorted(types[hid] & theirs)
            del p["other_types"]
            self.pairs.append(p)

    def keep_sources(self, c: dict, hh: dict[int, tuple], lists: dict, plans: list[dict]) -> None:
        """A sample of the county's households with entries, as counterparts for its city's later
        counties (never a planted one: a pair stays a pair)."""
        planted = {p["household"] for p in plans}
        types: dict[int, set[int]] = defaultdict(set)
        for (j, _v), rows in lists.items():
            for r in rows:
                types[r[0]].add(j)
        listed = sorted(hid for hid in types if hid not in planted)
        rng = random.Random(f"{self.seed}:cross-sources:{c['code']}")
        for hid in rng.sample(listed, min(len(listed), SOURCES_PER_COUNTY)):
            h = hh[hid]
            self.sources[c["city"]].append((hid, c["code"], h[ACCOUNT], h[PHONE], frozenset(types[hid])))

    @staticmethod
    def _choose(rng, h: tuple, candidates: list[int]) -> int | None:
        from bench.generate import PROJECTS

        fits = [j for j in candidates if PROJECTS[j][2] != "mu" or h[LAND] > 0]
        return rng.choice(fits) if fits else None

    @staticmethod
    def _entry(rng, j: int, hid: int, h: tuple) -> list:
        """[household, quantity, amount] of project j, drawn as the generator draws an entry."""
        from bench.generate import CENT, PROJECTS, standard

        unit = PROJECTS[j][2]
        if unit == "mu":
            qty = h[LAND]
        elif unit == "head":
            qty = Decimal(rng.randint(1, 8)).quantize(CENT)
        elif unit == "person":
            qty = Decimal(h[MEMBERS]).quantize(CENT)
        else:
            qty = Decimal("1.00")
        return [hid, qty, standard(j, qty)]

    def summary(self) -> dict:
        """Planted pairs by kind: match (a common type) and decoy, and the pairs themselves."""
        counts = {k: {"match": 0, "decoy": 0} for k in KINDS}
        for p in self.pairs:
            counts[p["kind"]]["match" if p["match"] else "decoy"] += 1
        return {**counts, "pairs": self.pairs}
