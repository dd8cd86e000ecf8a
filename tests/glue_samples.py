"""Tiny GLUE task directories in GLUE's own layouts (as `download_glue_data.py`
writes them): headers, column orders, CoLA's headerless train/dev files,
MNLI's matched and mismatched files, MRPC's raw, unbalanced quotes."""

import os

MNLI_HEAD = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
             "sentence1_parse\tsentence2_parse\tsentence1\tsentence2")
STSB_HEAD = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
MRPC_HEAD = "#1 ID\t#2 ID\t#1 String\t#2 String"


def _mnli(rows, labels=1):
    """MNLI rows: (sentence1, sentence2, gold_label); `labels` annotator
    columns (train 1, dev 5) before gold_label."""
    return "".join(f"{i}\t{31193 + i}\t{31193 + i}n\tfiction\t( a )\t( b )\t(ROOT a)\t(ROOT b)\t{a}\t{b}\t"
                   + "\t".join([gold] * labels) + f"\t{gold}\n" for i, (a, b, gold) in enumerate(rows))


def _mnli_test(rows):
    return MNLI_HEAD + "\n" + "".join(f"{i}\t{7}\t{7}n\tslate\t( a )\t( b )\t(ROOT a)\t(ROOT b)\t{a}\t{b}\n"
                                      for i, (a, b) in enumerate(rows))


MNLI_TRAIN = [("The cat sat on the mat .", "A cat is sitting .", "entailment"),
              ("The cat sat on the mat .", "No animal is on the mat .", "contradiction"),
              ("He went to the shop .", "He bought bread .", "neutral")]
MNLI_DEV_MATCHED = [("She reads every night .", "She reads .", "entailment"),
                    ("She reads every night .", "She never reads .", "contradiction")]
MNLI_DEV_MISMATCHED = [("The road was wet .", "It had rained .", "neutral")]

FILES = {
    "CoLA": {
        "train.tsv": "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\n"
                     "gj04\t0\t*\tThe more we study verbs, the crazier they get get.\n"
                     "gj04\t1\t\tDay by day the facts are getting murkier.\n",
        "dev.tsv": "gj04\t0\t*\tHim left.\ngj04\t1\t\tShe left.\n",
        "test.tsv": "index\tsentence\n0\tBill whistled past the house.\n1\tThe car honked down the road.\n",
    },
    "SST-2": {
        "train.tsv": "sentence\tlabel\nit 's a charming and often affecting journey . \t1\n"
                     "unflinchingly bleak and desperate \t0\n",
        "dev.tsv": "sentence\tlabel\na gorgeous , witty , seductive movie . \t1\n",
        "test.tsv": "index\tsentence\n0\tuneasy mishmash of styles and genres .\n",
    },
    "MRPC": {
        # MRPC's texts are raw: a `"` that is never closed stays a character.
        "train.tsv": f"Quality\t{MRPC_HEAD}\n"
                     '1\t702876\t702977\tHe called him " the witness , in court .\tHe named him " the witness " .\n'
                     "0\t2108705\t2108831\tShares rose 5 percent .\tThe index fell sharply on Friday .\n",
        "dev.tsv": f"Quality\t{MRPC_HEAD}\n1\t1\t2\t\" It is over , he said .\tHe said it is over .\n"
                   "0\t3\t4\tIt rained .\tThe sun shone all week .\n",
        "test.tsv": f"index\t{MRPC_HEAD}\n0\t5\t6\tA \" quote .\tAnother one .\n",
    },
    "STS-B": {
        "train.tsv": f"{STSB_HEAD}\tscore\n0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\t"
                     "A plane is taking off.\tAn air plane is taking off.\t5.000\n"
                     "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man plays a flute.\t"
                     "A man is eating.\t0.500\n",
        "dev.tsv": f"{STSB_HEAD}\tscore\n0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\t"
                   "A man is playing a guitar.\tA man plays a guitar.\t4.750\n"
                   "1\tmain-captions\tMSRvid\t2012test\t0005\tnone\tnone\tA dog runs.\tA woman cooks.\t0.000\n",
        "test.tsv": f"{STSB_HEAD}\n0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl sings.\t"
                    "A girl is singing.\n",
    },
    "QQP": {
        "train.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                     "133273\t213221\t213222\tHow do I learn Python?\tWhat is the best way to learn Python?\t1\n"
                     "402555\t536040\t536041\tWhy is the sky blue?\tHow do I cook rice?\t0\n",
        "dev.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                   "201359\t303345\t303346\tWhy are rockets white?\tWhy are rockets painted white?\t1\n",
        "test.tsv": "id\tquestion1\tquestion2\n0\tIs tea healthy?\tIs green tea good for you?\n",
    },
    "MNLI": {
        "train.tsv": MNLI_HEAD + "\tlabel1\tgold_label\n" + _mnli(MNLI_TRAIN),
        "dev_matched.tsv": MNLI_HEAD + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                           + _mnli(MNLI_DEV_MATCHED, labels=5),
        "dev_mismatched.tsv": MNLI_HEAD + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                              + _mnli(MNLI_DEV_MISMATCHED, labels=5),
        "test_matched.tsv": _mnli_test([("A boy runs .", "A child moves .")]),
        "test_mismatched.tsv": _mnli_test([("Prices fell .", "Prices rose ."), ("It is late .", "It is early .")]),
    },
    "QNLI": {
        "train.tsv": "index\tquestion\tsentence\tlabel\n"
                     "0\tWhen did it open?\tThe museum opened in 1901.\tentailment\n"
                     "1\tWho wrote it?\tThe book has 300 pages.\tnot_entailment\n",
        "dev.tsv": "index\tquestion\tsentence\tlabel\n0\tWhere is it?\tIt lies in Paris.\tentailment\n",
        "test.tsv": "index\tquestion\tsentence\n0\tWhat is it?\tIt is a bridge.\n",
    },
    "RTE": {
        "train.tsv": "index\tsentence1\tsentence2\tlabel\n"
                     "0\tNo weapons were found in the city.\tWeapons were found in the city.\tnot_entailment\n"
                     "1\tA storm hit the coast on Monday.\tA storm hit the coast.\tentailment\n",
        "dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\tThe firm hired ten people.\tThe firm hired staff.\t"
                   "entailment\n",
        "test.tsv": "index\tsentence1\tsentence2\n0\tMary sold her car.\tMary owns a car.\n",
    },
    "WNLI": {
        "train.tsv": "index\tsentence1\tsentence2\tlabel\n"
                     "0\tI put the cake in the box because it was small.\tThe cake was small.\t1\n"
                     "1\tI put the cake in the box because it was big.\tThe cake was big.\t0\n",
        "dev.tsv": "index\tsentence1\tsentence2\tlabel\n0\tThe cup fell on the plate and it broke.\t"
                   "The plate broke.\t1\n",
        "test.tsv": "index\tsentence1\tsentence2\n0\tTom thanked Bob because he helped.\tBob helped.\n",
    },
}


def write_glue(root, titles=None):
    """Writes the task directories named by `titles` (all by default) under
    `root`, as GLUE distributes them; returns `root`."""
    for title, files in FILES.items():
        if titles is None or title in titles:
            os.makedirs(os.path.join(root, title), exist_ok=True)
            for name, text in files.items():
                with open(os.path.join(root, title, name), "w", encoding="utf-8") as f:
                    f.write(text)
    return str(root)
