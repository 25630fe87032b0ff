"""NCT02317510: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02317510__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2016-03-15 |
| NCT02317510__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2016-03-15 |

The index holds no other version of the file at the commits probed. Both hold posted results
(56,886 and 58,392 characters); each is kept up to the ``<clinical_results>`` line.

What differs, as read in the files: the same registry version of a completed trial (last update
submitted 2016-02-17). The 2018 download drops the old date tags (``lastchanged_date``,
``firstreceived_date``, ``firstreceived_results_date``) and is stored with CRLF line ends; it
still prints ``<phase>N/A</phase>``. No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02317510.xml"

CAPTURES = (
    Capture(
        "NCT02317510__2017-10-20.xml", AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", 13200, 56886
    ),
    Capture(
        "NCT02317510__2018-05-11.xml", AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", 13743, 58392
    ),
)
PAIRS = (
    Pair(
        "nct02317510-xml-2017-10-to-2018-05",
        "real",
        ("NCT02317510__2017-10-20.xml", "NCT02317510__2018-05-11.xml"),
        "same version (last update 2016-03-15), results posted; old date tags dropped",
        real_captures("NCT02317510__2017-10-20.xml", "NCT02317510__2018-05-11.xml"),
        (),
    ),
)
