"""NCT02708238: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02708238__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2016-07-29 |
| NCT02708238__2018-05-11.xml | 4436854f6e0b5c368d0009a7d53414207d60bc73 | 2018-05-11 | 2016-07-29 |

Both hold posted results and are kept whole (under 40,000 characters).

What differs, as read in the files: the same version (last update posted July 29, 2016 in
both). The 2018 download has the other header date, drops the old date tags, writes the quotes
around "Federico II" (detailed description, results' point of contact) as ``&quot;`` and ends
its lines with CRLF. No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02708238.xml"

V1, V2 = "NCT02708238__2017-10-20.xml", "NCT02708238__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", chars=27332, full_chars=27332),
    Capture(V2, AACT, PATH, "4436854f6e0b5c368d0009a7d53414207d60bc73", chars=28239, full_chars=28239),
)
PAIRS = (
    Pair(
        "nct02708238-xml-2017-10-to-2018-05",
        "real",
        (V1, V2),
        "same version (last update 2016-07-29); quotes re-escaped, old date tags dropped",
        real_captures(V1, V2),
        (),
    ),
)
