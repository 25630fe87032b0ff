"""NCT02586688: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

The source index holds 8 versions of ``spec/support/xml_data/NCT02586688.xml``; two of them could
be reached by commit, both kept whole:

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02586688__2017-08-08.xml | 9a3c3ea37fb5d93060f45959e0ff7b54709d4795 | 2017-08-08 | (old tag ``lastchanged_date``) 2017-06-06 |
| NCT02586688__2018-05-11.xml | fed61152fa37dc9f022619150bfe76da4b271fad | 2018-05-11 | 2018-02-02 |

The 2017 version is stored with LF line ends (18,959 characters), the 2018 one with CRLF (15,826);
both are kept as stored.

What differs, as read in the files (the sponsor updated the record on 2018-01-31):

- overall status Recruiting → Active, not recruiting: a forward step (status, minor);
- primary completion November 2017 → January 2018, both anticipated: 61 days (dates, minor);
  completion (December 2018), start, enrollment (100 anticipated), outcome, arms unchanged;
- the 13 sites lose their status "Recruiting" and, with it, their contacts (and investigators,
  which the converter leaves out): one site-status event for 13 sites (sites, minor);
- the overall contact (Melissa Reitenbaugh) and its backup (Mei Hentrup) removed: one event for
  2 central contacts (contacts, minor);
- overall official David Brock, MD (Study Chair, Neuronetics) removed and Paul Croarkin, MD
  (Principal Investigator, Mayo Clinic) added: officials are matched by name, so one event each
  (contacts, minor);
- no event: the header, masking written without its count in 2017 ("Participant, Care Provider,
  Investigator, Outcomes Assessor") and with it in 2018 ("Quadruple (...)"), the verification date
  (June 2017 → January 2018), the old date tags replaced by the new ones.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02586688.xml"

CAPTURES = (
    Capture(
        "NCT02586688__2017-08-08.xml",
        AACT,
        PATH,
        "9a3c3ea37fb5d93060f45959e0ff7b54709d4795",
        chars=18959,
        full_chars=18959,
    ),
    Capture(
        "NCT02586688__2018-05-11.xml",
        AACT,
        PATH,
        "fed61152fa37dc9f022619150bfe76da4b271fad",
        chars=15826,
        full_chars=15826,
    ),
)
PAIRS = (
    Pair(
        "nct02586688-xml-2017-08-to-2018-05",
        "real",
        ("NCT02586688__2017-08-08.xml", "NCT02586688__2018-05-11.xml"),
        "recruitment ended (Recruiting → Active, not recruiting); primary completion 2 months later; "
        "13 sites lose status and contacts; central contacts dropped; one official replaced",
        real_captures("NCT02586688__2017-08-08.xml", "NCT02586688__2018-05-11.xml"),
        (
            ("status", "minor", 1),
            ("dates", "minor", 1),
            ("sites", "minor", 13),
            ("contacts", "minor", 2),
            ("contacts", "minor", 1),
            ("contacts", "minor", 1),
        ),
    ),
)
