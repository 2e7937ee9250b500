"""Parsing of vista_sql statements on top of sqlglot's Spark parser.

Only statements that start with our keywords (openings.FORMS) are handled here; everything else
falls through to sqlglot's Spark parser unchanged, so ordinary Spark SQL parses exactly as it
does there.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.parsers.spark import SparkParser
from sqlglot.tokens import TokenType

from vista_sql.dialect import nodes, openings

# Words that end an optional alias: `ON images (id, img) JOIN ...` has no alias.
_CLAUSE_WORDS = {
    "JOIN",
    "USING",
    "ON",
    "WHERE",
    "TRAIN",
    "EVALUATE",
    "SAVE",
    "MATERIALIZE",
    "OPTIONS",
}


class VistaParser(SparkParser):
    def _parse_statement(self) -> exp.Expr | None:
        for form in openings.FORMS:
            if self._match_text_seq(*form.words):
                return getattr(self, f"_parse_{form.parse}")(form)
        return super()._parse_statement()

    def _parse_transfer_statement(self, form: openings.Form) -> nodes.TransferFeatures:
        return self._parse_transfer()

    def _parse_explain_transfer(self, form: openings.Form) -> nodes.ExplainTransfer:
        cost = "COST" in form.opening
        return self.expression(
            nodes.ExplainTransfer(this=self._parse_transfer(), cost=cost or None)
        )

    def _parse_explain_predict(self, form: openings.Form) -> nodes.ExplainPredict:
        return self.expression(nodes.ExplainPredict(this=self._parse_predict(form)))

    def _parse_drop_cnn(self, form: openings.Form) -> nodes.DropCnn:
        exists = self._match_text_seq("IF", "EXISTS")
        name = self._expect_identifier("a CNN name")
        return self.expression(nodes.DropCnn(this=name, exists=exists or None))

    def _parse_show_cnns(self, form: openings.Form) -> nodes.ShowCnns:
        return self.expression(nodes.ShowCnns())

    def _parse_show_saved_models(self, form: openings.Form) -> nodes.ShowSavedModels:
        return self.expression(nodes.ShowSavedModels())

    def _parse_drop_saved_model(self, form: openings.Form) -> nodes.DropSavedModel:
        exists = self._match_text_seq("IF", "EXISTS")
        name = self._expect_identifier("a saved model name")
        return self.expression(nodes.DropSavedModel(this=name, exists=exists or None))

    def _parse_describe_model(self, form: openings.Form) -> nodes.DescribeModel:
        name = self._expect_identifier("a model name")
        return self.expression(nodes.DescribeModel(this=name))

    def _parse_describe_cnn(self, form: openings.Form) -> nodes.DescribeCnn:
        return self.expression(nodes.DescribeCnn(this=self._expect_identifier("a CNN name")))

    def _parse_create_cnn(self, form: openings.Form) -> nodes.CreateCnn:
        replace = "REPLACE" in form.opening
        name = self._expect_identifier("a name for the CNN")
        self._expect("FROM", what="FROM '<model file>' or FROM <cnn> [WEIGHTS ...]")
        weights = None
        source = self._parse_string()
        if not isinstance(source, exp.Literal):
            source = self._expect_identifier("a quoted model path or a CNN name")
            weights = self._parse_weights() if self._match_text_seq("WEIGHTS") else None
        options = None
        if self._match_text_seq("OPTIONS"):
            options = self._parse_wrapped_csv(self._parse_option)
        return self.expression(
            nodes.CreateCnn(
                this=name, source=source, weights=weights, replace=replace or None, options=options
            )
        )

    def _parse_refresh_features(self, form: openings.Form) -> nodes.RefreshFeatures:
        table = self._expect_table("a feature table's name")
        options = None
        if self._match_text_seq("OPTIONS"):
            options = self._parse_wrapped_csv(self._parse_option)
        return self.expression(nodes.RefreshFeatures(this=table, options=options))

    def _parse_show_feature_tables(self, form: openings.Form) -> nodes.ShowFeatureTables:
        return self.expression(nodes.ShowFeatureTables())

    def _expect_table(self, what: str) -> exp.Table:
        """<name> or <database>.<name>."""
        name = self._expect_identifier(what)
        if not self._match(TokenType.DOT):
            return self.expression(exp.Table(this=name))
        return self.expression(exp.Table(this=self._expect_identifier(what), db=name))

    def _expect(self, *words: str, what: str | None = None) -> None:
        if not self._match_text_seq(*words):
            found = self._curr.text if self._curr else "end of statement"
            self.raise_error(f"expected {what or ' '.join(words)} but found '{found}'")

    def _expect_identifier(self, what: str) -> exp.Identifier:
        ident = self._parse_id_var(any_token=False)
        if not isinstance(ident, exp.Identifier):
            found = self._curr.text if self._curr else "end of statement"
            self.raise_error(f"expected {what} but found '{found}'")
        return ident

    def _parse_cnn(self) -> tuple[exp.Expr, nodes.Weights | None]:
        if self._match_text_seq("MODEL"):
            path = self._parse_string()
            if not isinstance(path, exp.Literal):
                self.raise_error("expected a quoted model path after FROM MODEL")
            return self.expression(nodes.ModelFile(this=path)), None
        cnn = self._expect_identifier("a CNN name")
        weights = self._parse_weights() if self._match_text_seq("WEIGHTS") else None
        return cnn, weights

    def _parse_join_condition(self):
        """USING (cols) or ON condition after the structured table."""
        if self._match(TokenType.USING):
            return self._parse_wrapped_csv(lambda: self._expect_identifier("a join column")), None
        if self._match(TokenType.ON):
            return None, self._parse_assignment()
        self.raise_error("expected USING (<column>) or ON <condition> after the joined table")
        return None, None

    def _parse_sides(self):
        """ON images (key, image) JOIN table USING (...) | ON cond [WHERE ...]: what TRANSFER
        and PREDICT WITH read their rows from."""
        self._expect("ON", what="ON <images table> (<key>, <image>)")
        images = self._parse_source(with_columns=True)
        self._expect("JOIN", what="JOIN <structured table>")
        structured = self._parse_source(with_columns=False)
        using, on = self._parse_join_condition()
        where = self._parse_assignment() if self._match(TokenType.WHERE) else None
        return images, structured, using, on, where

    def _parse_predict(self, form: openings.Form) -> nodes.PredictWith:
        name = self._expect_identifier("a saved model name after PREDICT WITH")
        images, structured, using, on, where = self._parse_sides()
        return self.expression(
            nodes.PredictWith(
                this=name, images=images, structured=structured, using=using, on=on, where=where
            )
        )

    def _parse_transfer(self) -> nodes.TransferFeatures:
        self._expect("FROM")
        cnn, weights = self._parse_cnn()
        more = []
        while self._match(TokenType.COMMA):
            if self._curr and self._curr.text.upper() == "LAYERS":
                self.raise_error("expected a CNN name after ',' but found 'LAYERS'")
            other, other_weights = self._parse_cnn()
            more.append(self.expression(nodes.CnnChoice(this=other, weights=other_weights)))
        self._expect("LAYERS")
        layers, top = None, None
        if self._match(TokenType.TOP) or self._match_text_seq("TOP"):
            top = self._parse_number()
            if not isinstance(top, exp.Literal):
                self.raise_error("expected a number of layers after LAYERS TOP")
        else:
            layers = self._parse_wrapped_csv(lambda: self._expect_identifier("a layer name"))
        pooling = self._parse_pooling() if self._match_text_seq("POOL") else None
        images, structured, using, on, where = self._parse_sides()
        self._expect("TRAIN")
        train = self._parse_train()
        split = folds = metrics = None
        if self._match_text_seq("EVALUATE"):
            split, folds, metrics = self._parse_evaluate()
        save_as = None
        if self._match_text_seq("SAVE"):
            self._expect("BEST", "AS", what="BEST AS <name> after SAVE")
            save_as = self._expect_identifier("a name for the saved model")
        materialize = None
        if self._match_text_seq("MATERIALIZE"):
            self._expect("INTO")
            if self._match(TokenType.TABLE):
                materialize = self._expect_table("a name for the feature table")
            else:
                materialize = self._parse_string()
                if not isinstance(materialize, exp.Literal):
                    self.raise_error("expected a quoted path or TABLE <name> after MATERIALIZE")
        options = None
        if self._match_text_seq("OPTIONS"):
            options = self._parse_wrapped_csv(self._parse_option)
        return self.expression(
            nodes.TransferFeatures(
                this=cnn,
                weights=weights,
                more_cnns=more or None,
                pooling=pooling,
                layers=layers,
                top=top,
                images=images,
                structured=structured,
                using=using,
                on=on,
                where=where,
                train=train,
                split=split,
                folds=folds,
                metrics=metrics,
                save_as=save_as,
                materialize=materialize,
                options=options,
            )
        )

    def _parse_evaluate(self):
        split = folds = metrics = None
        if self._match_text_seq("SPLIT"):
            split = self._parse_number()
            if not isinstance(split, exp.Literal):
                self.raise_error("expected a fraction after EVALUATE SPLIT")
        if self._match_text_seq("CROSS", "VALIDATE"):
            folds = self._parse_number()
            if not isinstance(folds, exp.Literal):
                self.raise_error("expected a number of folds after CROSS VALIDATE")
        if self._match_text_seq("METRICS"):
            metrics = self._parse_wrapped_csv(lambda: self._parse_option_name())
        if split is None and folds is None and metrics is None:
            self.raise_error("expected SPLIT, CROSS VALIDATE or METRICS after EVALUATE")
        return split, folds, metrics

    def _parse_pooling(self) -> nodes.Pooling:
        if self._match_text_seq("NONE"):
            return self.expression(nodes.Pooling(this="NONE"))
        if not (self._match_text_seq("MAX") or self._match_text_seq("AVG")):
            self.raise_error("expected MAX <grid>, AVG <grid> or NONE after POOL")
        kind = self._prev.text.upper()
        grid = self._parse_number()
        if not isinstance(grid, exp.Literal):
            self.raise_error(f"expected a grid size after POOL {kind}")
        return self.expression(nodes.Pooling(this=kind, grid=grid))

    def _parse_weights(self) -> nodes.Weights:
        if self._match_text_seq("RANDOM"):
            seed = self._parse_number() if self._match_text_seq("SEED") else None
            return self.expression(nodes.Weights(random=True, seed=seed))
        name = self._parse_string()
        if not isinstance(name, exp.Literal):
            self.raise_error("expected RANDOM or a quoted weights name/path after WEIGHTS")
        return self.expression(nodes.Weights(this=name))

    def _parse_source(self, with_columns: bool) -> nodes.Source:
        if self._match(TokenType.L_PAREN):
            query = self._parse_select()
            if query is None:
                self.raise_error("expected a query inside parentheses")
            self._match_r_paren()
            relation: exp.Expr = self.expression(exp.Subquery(this=query))
        else:
            relation = self._parse_table_name()
        alias = None
        if self._match(TokenType.ALIAS):
            alias = self._expect_identifier("an alias after AS")
        elif (
            self._curr
            and self._curr.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
            and self._curr.text.upper() not in _CLAUSE_WORDS
        ):
            alias = self._expect_identifier("an alias")
        key = image = None
        if with_columns:
            if not self._match(TokenType.L_PAREN):
                self.raise_error("expected (<key column>, <image column>) after the images table")
            key = self._expect_identifier("the key column")
            if not self._match(TokenType.COMMA):
                self.raise_error("expected ', <image column>' after the key column")
            image = self._expect_identifier("the image column")
            self._match_r_paren()
        return self.expression(nodes.Source(this=relation, alias=alias, key=key, image=image))

    def _parse_table_name(self) -> exp.Table:
        # Not _parse_table_parts: that reads `images (id, content)` as a table function call.
        parts = [self._expect_identifier("a table, view or (subquery)")]
        while self._match(TokenType.DOT):
            parts.append(self._expect_identifier("a name after '.'"))
        if len(parts) > 3:
            self.raise_error("a table name has at most three parts: catalog.database.table")
        names = dict(zip(("this", "db", "catalog"), reversed(parts), strict=False))
        return self.expression(exp.Table(**names))

    def _parse_train(self) -> nodes.Train:
        model = self._expect_identifier("a model name after TRAIN")
        if not self._match(TokenType.L_PAREN):
            self.raise_error("expected '(LABEL <column>, ...)' after the model name")
        self._expect("LABEL", what="LABEL <column> first in TRAIN (...)")
        label = self._expect_identifier("the label column")
        features, params = None, []
        while self._match(TokenType.COMMA):
            if self._match_text_seq("FEATURES"):
                features = self._parse_wrapped_csv(
                    lambda: self._expect_identifier("a feature column")
                )
            else:
                params.append(self._parse_param())
        self._match_r_paren()
        return self.expression(
            nodes.Train(this=model, label=label, features=features, params=params or None)
        )

    def _parse_option_name(self) -> exp.Identifier:
        # Option names may be SQL keywords (join, plan, ...): any bare word will do.
        token = self._curr
        if token and token.token_type != TokenType.STRING and token.text.replace("_", "").isalnum():
            if not token.text[0].isdigit():
                self._advance()
                name = exp.to_identifier(token.text)
                name.update_positions(token)
                return name
        return self._expect_identifier("an option name")

    def _parse_param(self) -> exp.Expr:
        name = self._parse_option_name()
        if self._match(TokenType.IN):
            values = self._parse_wrapped_csv(self._parse_bitwise)
            return self.expression(nodes.ParamIn(this=name, expressions=values))
        return self._finish_option(name)

    def _parse_option(self) -> nodes.OptionEQ:
        return self._finish_option(self._parse_option_name())

    def _finish_option(self, name: exp.Identifier) -> nodes.OptionEQ:
        if not self._match(TokenType.EQ):
            self.raise_error(f"expected '=' after '{name.name}'")
        value = self._parse_bitwise()
        if value is None:
            self.raise_error(f"expected a value for '{name.name}'")
        return self.expression(nodes.OptionEQ(this=name, expression=value))
