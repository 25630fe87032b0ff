"""NCT02260193: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02260193__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2015-12-16 (estimate) |
| NCT02260193__2018-05-11.xml | fed61152fa37dc9f022619150bfe76da4b271fad | 2018-05-11 | 2015-12-16 (estimate) |

No results (a results disposition was submitted in 2015); both kept whole, the 2017 file with LF
line ends and no final newline, the 2018 one with CRLF.

What differs, as read in the files: the same registry version (last update submitted November 17,
2015), downloaded twice. The 2018 download drops the old date tags (``lastchanged_date``,
``firstreceived_date``, ``firstreceived_results_disposition_date``) and prints the registry's note
on their new names instead; the header's download date. Nothing compared changes, so no event.

The record is a hard case for matching all the same: two primary outcomes share the measure
"Change in Baseline Hemoglobin" (8 and 16 weeks), three interventions share the name "AKB-6548"
(one per arm), and its 16 sites have a city and state but no facility name.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02260193.xml"

V1, V2 = "NCT02260193__2017-10-20.xml", "NCT02260193__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", chars=12131, full_chars=12131),
    Capture(V2, AACT, PATH, "fed61152fa37dc9f022619150bfe76da4b271fad", chars=12754, full_chars=12754),
)
PAIRS = (
    Pair(
        "nct02260193-xml-2017-10-to-2018-05",
        "real",
        (V1, V2),
        "same version (last update 2015-11-17), completed, no facility names; old date names dropped",
        real_captures(V1, V2),
        (),
    ),
)
