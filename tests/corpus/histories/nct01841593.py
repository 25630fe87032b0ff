"""NCT01841593: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates, 3 versions.

A completed phase 1 crossover study with posted results; every version is kept up to the
``<clinical_results>`` line.

| file | commit | download date | last update |
|---|---|---|---|
| NCT01841593__2017-01-18.xml | b235ad2b03776be4644582307e4b77356153987b | 2017-01-18 | lastchanged 2014-09-23 |
| NCT01841593__2017-01-18b.xml | 2ffb939d27006461f3493ec12dbad2bee1353600 | 2017-01-18 | lastchanged 2014-09-23 |
| NCT01841593__2018-05-11.xml | fed61152fa37dc9f022619150bfe76da4b271fad | 2018-05-11 | posted 2014-09-29 |

The source index names no other version of this file at the commits probed.

Both 2017 versions carry AACT's own edit of ``<oversight_info>`` (an ``<aact_change>`` line, "doctor
up oversight info so we have test data", and five ``is_*`` lines, all with LF line ends where the
registry's lines end in CRLF). They are one download: the second lacks only the registry's
``<authority>`` line (CRLF, as downloaded), so it is the later fixture edit, hence ``b``.

What differs, as read in the files:

- 2017-01-18 → 2017-01-18b: the ``<authority>`` line removed by AACT; nothing the converter reads.
  Not a pair: one download, edited by hand (SOURCES.md: a real pair has two download dates).
- 2017-01-18b → 2018-05-11: the same registry version (last update submitted 2014-09-23 in both).
  Header, AACT's oversight lines gone, masking "Open Label" → "None (Open Label)", four criteria
  re-wrapped, old date names replaced by the new ones, and ``<start_date type="Actual">April
  2013</start_date>`` → ``<start_date>April 2013</start_date>``: the registry stopped printing the
  type of this start date; the date is unchanged. A trial office expects no event (trialwatch
  once reported "Start date type ACTUAL → not stated"; a type printed or omitted beside an
  unchanged date is now no change).
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT01841593.xml"

CAPTURES = (
    Capture(
        "NCT01841593__2017-01-18.xml",
        AACT,
        PATH,
        "b235ad2b03776be4644582307e4b77356153987b",
        chars=12921,
        full_chars=40782,
    ),
    Capture(
        "NCT01841593__2017-01-18b.xml",
        AACT,
        PATH,
        "2ffb939d27006461f3493ec12dbad2bee1353600",
        chars=12825,
        full_chars=40686,
    ),
    Capture(
        "NCT01841593__2018-05-11.xml",
        AACT,
        PATH,
        "fed61152fa37dc9f022619150bfe76da4b271fad",
        chars=13784,
        full_chars=41645,
    ),
)

PAIRS = (
    Pair(
        "nct01841593-xml-2017-01-to-2018-05",
        "real",
        ("NCT01841593__2017-01-18b.xml", "NCT01841593__2018-05-11.xml"),
        "same version (last update 2014-09-23); masking vocabulary, criteria re-wrapped, old date names"
        " dropped, start date printed without its type 'Actual'",
        real_captures("NCT01841593__2017-01-18b.xml", "NCT01841593__2018-05-11.xml"),
        (),
    ),
)
