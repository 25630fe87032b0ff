"""NCT01339988: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT01339988__2017-08-08.xml | 9a3c3ea37fb5d93060f45959e0ff7b54709d4795 | 2017-08-08 | (old tags) changed 2011-04-20 |
| NCT01339988__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2011-04-21 (estimate) |

No results; both kept whole, LF line ends, no final newline. The source index counts 4 versions
of the file; these two could be read.

What differs, as read in the files: the same registry version, never updated since it was
registered in April 2011 (still "Not yet recruiting", primary completion June 2014 anticipated),
downloaded two months apart. Masking "Open Label" is written "None (Open Label)" in October, and
the registry prints the new date names next to the old ones (with ``last_update_posted``, which
trialwatch leaves out). No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT01339988.xml"

V1, V2 = "NCT01339988__2017-08-08.xml", "NCT01339988__2017-10-20.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "9a3c3ea37fb5d93060f45959e0ff7b54709d4795", chars=6834, full_chars=6834),
    Capture(V2, AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", chars=7558, full_chars=7558),
)
PAIRS = (
    Pair(
        "nct01339988-xml-2017-08-to-2017-10",
        "real",
        (V1, V2),
        "same version (registered 2011, never updated); masking in the 2017 vocabulary, new date names"
        " printed next to the old",
        real_captures(V1, V2),
        (),
    ),
)
