"""NCT02699827: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02699827__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2017-06-06 |
| NCT02699827__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2017-06-06 |

No results; both kept whole.

What differs, as read in the files: the same version (last update posted June 6, 2017 in
both). The 2018 download has the registry's other header date, drops the old date tags
(``lastchanged_date``, ``firstreceived_date``) with their comments for the note on the new
names, and ends its lines with CRLF. Every compared field is the same: no event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02699827.xml"

V1, V2 = "NCT02699827__2017-10-20.xml", "NCT02699827__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", chars=9131, full_chars=9131),
    Capture(V2, AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", chars=9751, full_chars=9751),
)
PAIRS = (
    Pair(
        "nct02699827-xml-2017-10-to-2018-05",
        "real",
        (V1, V2),
        "same version (last update 2017-06-06); old date tags dropped",
        real_captures(V1, V2),
        (),
    ),
)
