"""NCT00081588 (TMC114-C215): classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT00081588__2017-08-08.xml | 9a3c3ea37fb5d93060f45959e0ff7b54709d4795 | 2017-08-08 | (old tags) changed 2014-06-19 |
| NCT00081588__2018-05-11.xml | 697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e | 2018-05-11 | 2014-06-20 (estimate) |

No results; both kept whole (the 2017 file with LF line ends and no final newline, the 2018 one
with CRLF). The source index counts 3 versions of the file; these two could be read.

What differs, as read in the files: the same registry version (last changed June 19, 2014) of a
trial completed in 2008, downloaded twice. Masking "Open Label" is written "None (Open Label)" in
2018, the old date tags give way to the new names (with ``last_update_posted``, which trialwatch
leaves out), the header's download date. No event.

The record carries what a re-download must not turn into events: an ``nct_alias`` (NCT00980226),
68 sites without a facility name, among them one city under two names ("Vienna" and "Wien",
"Brussels" and "Brussel") and a city garbled by the registry itself ("Kÿln" for Köln), the same in
both downloads.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT00081588.xml"

V1, V2 = "NCT00081588__2017-08-08.xml", "NCT00081588__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "9a3c3ea37fb5d93060f45959e0ff7b54709d4795", chars=19996, full_chars=19996),
    Capture(V2, AACT, PATH, "697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e", chars=21861, full_chars=21861),
)
PAIRS = (
    Pair(
        "nct00081588-xml-2017-08-to-2018-05",
        "real",
        (V1, V2),
        "same version (last change 2014-06-19), 68 nameless sites, a garbled city; masking in the 2017"
        " vocabulary, old date names dropped",
        real_captures(V1, V2),
        (),
    ),
)
