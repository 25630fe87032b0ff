"""NCT02567188: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02567188__2017-08-08.xml | 798487be103b5267b897464e1d2293bf241e4ef6 | 2017-08-08 | (old tags) changed 2016-01-14 |
| NCT02567188__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2016-02-15 |

The index holds no other version of the file at the commits probed. Both hold posted results
(86,517 and 89,792 characters); each is kept up to the ``<clinical_results>`` line.

What differs, as read in the files: the same registry version of a completed observational study
with 20 Swedish sites that have no facility name (last changed 2016-01-14 in the old tags, last
update submitted 2016-01-14 in the new ones). The 2017 download has only the old date tags
(``lastchanged_date``, ``firstreceived_date``, ``firstreceived_results_date``); the 2018 one has
only the new ones, drops ``<phase>N/A</phase>`` and is stored with CRLF line ends. No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02567188.xml"

CAPTURES = (
    Capture(
        "NCT02567188__2017-08-08.xml", AACT, PATH, "798487be103b5267b897464e1d2293bf241e4ef6", 13812, 86517
    ),
    Capture(
        "NCT02567188__2018-05-11.xml", AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", 15462, 89792
    ),
)
PAIRS = (
    Pair(
        "nct02567188-xml-2017-08-to-2018-05",
        "real",
        ("NCT02567188__2017-08-08.xml", "NCT02567188__2018-05-11.xml"),
        "same version (changed 2016-01-14), results posted; old date tags replaced, phase N/A dropped",
        real_captures("NCT02567188__2017-08-08.xml", "NCT02567188__2018-05-11.xml"),
        (),
    ),
)
