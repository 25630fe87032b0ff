"""NCT01065844: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 3 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT01065844__2017-01-18.xml | b235ad2b03776be4644582307e4b77356153987b | 2017-01-18 | (old tags) lastchanged 2016-10-25 |
| NCT01065844__2017-10-20.xml | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2016-12-19 (lastchanged 2016-10-25) |
| NCT01065844__2018-05-11.xml | fed61152fa37dc9f022619150bfe76da4b271fad | 2018-05-11 | 2017-12-11 |

All three hold posted results and are kept whole (under 40,000 characters).

What differs, pair by pair, as read in the files:

- 2017-01 → 2017-10, the same version (last changed October 25, 2016 in both): the detailed
  description and the criteria re-wrapped, masking "Open Label" → "None (Open Label)", the new
  date tags added next to the old ones, and the two PubMed citations (same PMIDs) now end with
  their Epub dates ("Epub 2009 Oct 22.", "Epub 2014 Jun 18."). The registry rewrote the citation
  text, and the rules read an edited citation with the same PMID as "Reference: citation", info:
  two info events.
- 2017-10 → 2018-05, a new version (last update posted 2017-12-11): Active, not recruiting →
  Completed (forward step, minor); completion December 2018 anticipated → November 2017 actual,
  13 months earlier (major, 365 days or more). Also the verification date and the results'
  "Gender, Customized" → "Sex/Gender, Customized" (not compared), old date tags dropped.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT01065844.xml"

V1, V2, V3 = "NCT01065844__2017-01-18.xml", "NCT01065844__2017-10-20.xml", "NCT01065844__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "b235ad2b03776be4644582307e4b77356153987b", chars=23710, full_chars=23710),
    Capture(V2, AACT, PATH, "140a133b6219d5036b7e703a003fc88d57b42d34", chars=24164, full_chars=24164),
    Capture(V3, AACT, PATH, "fed61152fa37dc9f022619150bfe76da4b271fad", chars=24999, full_chars=24999),
)
PAIRS = (
    Pair(
        "nct01065844-xml-2017-01-to-2017-10",
        "real",
        (V1, V2),
        "same version (last changed 2016-10-25); texts re-wrapped, masking vocabulary, new date tags;"
        " both PubMed citations gain their Epub date",
        real_captures(V1, V2),
        (("references", "info", 1), ("references", "info", 1)),
    ),
    Pair(
        "nct01065844-xml-2017-10-to-2018-05",
        "real",
        (V2, V3),
        "completed: status active → completed, completion December 2018 estimated → November 2017 actual",
        real_captures(V2, V3),
        (("status", "minor", 1), ("dates", "major", 1)),
    ),
)
