"""NCT02970669 (AWAKE-HF): classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02970669__2017-08-08.xml | 9a3c3ea37fb5d93060f45959e0ff7b54709d4795 | 2017-08-08 | (old tags) changed 2017-01-17 |
| NCT02970669__2018-05-11.xml | 697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e | 2018-05-11 | 2018-01-17 |

No results; both kept whole (the 2017 file with LF line ends, the 2018 one with CRLF). The source
index counts 5 versions of the file; only these two commits hold one that can be read.

What differs, as read in the files (the sponsor's update of January 2018, still recruiting):

- sites: the one site of 2017 (Allen, Texas, recruiting) is now "Active, not recruiting" (minor,
  1), and 24 sites are listed for the first time, aggregated by their status: 14 "Active, not
  recruiting", 6 "Completed" and 4 "Recruiting" (three minor events of 14, 6 and 4). Every site is
  "Novartis Investigative Site"; city, state and zip tell them apart;
- eligibility: under "Key Inclusion Criteria", after the NYHA II/III item, a paragraph defines
  reduced ejection as LVEF ≤ 40 % and how it may be measured: one criterion added, about 12 % of
  the words (below the 30 % rewrite share), minor;
- central contact: an email is added to the phone (minor);
- design: primary purpose "Other" stated for the first time (minor); masking "Double Blind
  (Participant, Investigator)" → "Double (Participant, Investigator)", the same two roles, no event;
- dates stated to the day within the same month, each the same period stated more precisely
  (info): start "December 2016" → "December 16, 2016", now typed "Actual" (the type folds into
  the date's event); completion and primary completion "October 2018" → "October 1, 2018", both
  anticipated;
- no event: header, verification date, old date tags replaced by the new names.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02970669.xml"

V1, V2 = "NCT02970669__2017-08-08.xml", "NCT02970669__2018-05-11.xml"

CAPTURES = (
    Capture(V1, AACT, PATH, "9a3c3ea37fb5d93060f45959e0ff7b54709d4795", chars=12937, full_chars=12937),
    Capture(V2, AACT, PATH, "697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e", chars=22553, full_chars=22553),
)
PAIRS = (
    Pair(
        "nct02970669-xml-2017-08-to-2018-05",
        "real",
        (V1, V2),
        "recruiting: 24 sites listed at once (most already closed), the first site closed, a criterion"
        " note added, contact email, primary purpose; dates stated to the day",
        real_captures(V1, V2),
        (
            ("sites", "minor", 1),
            ("sites", "minor", 14),
            ("sites", "minor", 6),
            ("sites", "minor", 4),
            ("eligibility", "minor", 1),
            ("contacts", "minor", 1),
            ("design", "minor", 1),
            ("dates", "info", 1),
            ("dates", "info", 1),
            ("dates", "info", 1),
        ),
    ),
)
