"""NCT02830269: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02830269__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2017-10-18 |
| NCT02830269__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2017-10-18 |

The index holds no other version of the file at the commits probed.

What differs, as read in the files: the same registry version (last update submitted 2017-10-17,
posted 2017-10-18). The 2018 download drops ``<phase>N/A</phase>`` (an observational study),
``<number_of_groups>`` and the old date tags (``lastchanged_date``, ``firstreceived_date``), and
is stored with CRLF line ends. Nothing the sponsor wrote changed: no event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02830269.xml"

CAPTURES = (
    Capture(
        "NCT02830269__2017-10-20.xml", AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", 8455, 8455
    ),
    Capture(
        "NCT02830269__2018-05-11.xml", AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", 8958, 8958
    ),
)
PAIRS = (
    Pair(
        "nct02830269-xml-2017-10-to-2018-05",
        "real",
        ("NCT02830269__2017-10-20.xml", "NCT02830269__2018-05-11.xml"),
        "same version (last update 2017-10-18); phase N/A, number of groups and old date tags dropped",
        real_captures("NCT02830269__2017-10-20.xml", "NCT02830269__2018-05-11.xml"),
        (),
    ),
)
