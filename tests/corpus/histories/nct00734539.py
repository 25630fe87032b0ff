"""NCT00734539: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT00734539__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2017-10-12 (actual) |
| NCT00734539__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2014-08-01 (estimate) |

The index lists one commit for the path (db7f9efe); the file is also stored at 140a133b and at no
other commit probed (b235ad2b, 5d049118). Both hold posted results (81,521 and 83,737
characters); each is kept up to the ``<clinical_results>`` line. The 2017 file has LF line ends,
the 2018 file CRLF.

The record: a completed phase 3 trial of fluconazole prophylaxis in infants under 750 g (Duke,
NICHD), 362 randomised, 33 US sites, one primary and eleven secondary outcomes.

What differs, as read in the files: the same registry version (last update submitted July 27,
2014 in both). The 2018 download drops the old date tags and prints the last update posted as
August 1, 2014 "Estimate" where the 2017 download said October 12, 2017 "Actual" (a registry
date, not compared). In the results section, left out, a quote is escaped as ``&quot;``. No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT00734539.xml"

V1, V2 = "NCT00734539__2017-10-20.xml", "NCT00734539__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", chars=21411, full_chars=81521),
    Capture(V2, AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", chars=22248, full_chars=83737),
)
PAIRS = (
    Pair(
        "nct00734539-xml-2017-10-to-2018-05",
        "real",
        (V1, V2),
        "same version (last update submitted 2014-07-27), results posted; old date tags dropped,"
        " last-update date re-stamped",
        real_captures(V1, V2),
        (),
    ),
)
