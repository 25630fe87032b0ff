"""NCT02438137: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted | kept |
|---|---|---|---|---|
| NCT02438137__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2017-05-31 | 21,118 of 53,893 |
| NCT02438137__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2017-05-31 | 21,770 of 55,075 |

Path ``spec/support/xml_data/NCT02438137.xml``. Both hold posted results: each file is kept up to
the ``<clinical_results>`` line (offsets 21,118 and 21,770 in the stored text; the 2018 file has
CRLF line ends). The index counts 3 versions of the file but names only these two commits.

What differs, as read in the files: the same registry version (completed trial, results posted
2017-05-31, last update 2017-05-31); the 2018 download drops the old date names
(``lastchanged_date``, ``firstreceived_date``, ``firstreceived_results_date``) and explains so in
comments, and changes its download date. No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02438137.xml"

CAPTURES = (
    Capture(
        "NCT02438137__2017-10-20.xml",
        AACT,
        PATH,
        "140a133b6219d5036b7e703a003fc88d57b42d34",
        chars=21118,
        full_chars=53893,
    ),
    Capture(
        "NCT02438137__2018-05-11.xml",
        AACT,
        PATH,
        "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72",
        chars=21770,
        full_chars=55075,
    ),
)

PAIRS = (
    Pair(
        "nct02438137-xml-2017-10-to-2018-05",
        "real",
        ("NCT02438137__2017-10-20.xml", "NCT02438137__2018-05-11.xml"),
        "same version (last update 2017-05-31, results posted); old date names dropped",
        real_captures("NCT02438137__2017-10-20.xml", "NCT02438137__2018-05-11.xml"),
        (),
    ),
)
