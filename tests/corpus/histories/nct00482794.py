"""NCT00482794: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT00482794__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2017-05-19 |
| NCT00482794__2018-05-11.xml | 697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e | 2018-05-11 | 2017-11-06 |

The index holds 7 versions of the file, but of the commits probed only these two name one.

What differs, as read in the files: the sponsor updated the record on 2017-11-02 (posted
2017-11-06) and moved both anticipated dates a year: primary completion July 2017 → July 2018 and
completion December 2017 → December 2018 (365 days each, major). Still recruiting, same
verification date (May 2017), enrollment 2800 anticipated, same site and contact. The 2018 download
drops `<phase>N/A</phase>` and the old date tags (no event), and has CRLF line ends.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT00482794.xml"

CAPTURES = (
    Capture(
        "NCT00482794__2017-10-20.xml",
        AACT,
        PATH,
        "140a133b6219d5036b7e703a003fc88d57b42d34",
        chars=13103,
        full_chars=13103,
    ),
    Capture(
        "NCT00482794__2018-05-11.xml",
        AACT,
        PATH,
        "697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e",
        chars=13728,
        full_chars=13728,
    ),
)
PAIRS = (
    Pair(
        "nct00482794-xml-2017-10-to-2018-05",
        "real",
        ("NCT00482794__2017-10-20.xml", "NCT00482794__2018-05-11.xml"),
        "sponsor update 2017-11: primary completion July 2017 → July 2018 and completion December 2017"
        " → December 2018, both anticipated; phase N/A and old date tags dropped",
        real_captures("NCT00482794__2017-10-20.xml", "NCT00482794__2018-05-11.xml"),
        (("dates", "major", 1), ("dates", "major", 1)),
    ),
)
